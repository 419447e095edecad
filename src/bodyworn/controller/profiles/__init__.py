"""Camera profiles: the settings groups of users' cameras record and behave with."""
