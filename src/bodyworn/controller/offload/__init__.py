"""Camera → spool → content destination: the exactly-once offload state machine."""
