"""Users and devices waiting to be written to the content destination."""
