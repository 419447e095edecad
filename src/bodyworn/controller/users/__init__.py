"""Body worn users: the link between a recording and the person who wore the camera."""
