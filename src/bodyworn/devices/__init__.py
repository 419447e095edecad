"""Simulated hardware: cameras, docking stations, RFID reader, holster sensors.

`feedback` holds the manual's LED, daily-use and error tables as data; `camera` is the
W100 state machine (with `battery`, `storage`, `environment` and `gnss`); `video` writes
real H.264 clips; `docking`, `rfid` and `holster` are the accessories. The camera side of
the dock link is `docklink_server` (one server per station) with `docklink_messages`
(a camera read into the protocol's messages); the protocol itself is `bodyworn.docklink`.
`scenario` and `simulate` run `bodyworn simulate`.
Nothing here imports a web framework or SQL.
"""
