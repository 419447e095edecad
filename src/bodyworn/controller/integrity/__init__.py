"""Evidence integrity on the controller's side: the system bound to its CD, cameras
certified by the system identity, custody entries in the audit log, and audit anchors."""
