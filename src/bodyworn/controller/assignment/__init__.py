"""Fixed and self-assign camera assignment, self-assign tags, holster sensor pairing."""
