"""Simulated hardware: cameras, docking stations, RFID reader, holster sensors.

`feedback` holds the manual's LED, daily-use and error tables as data; `camera` is the
W100 state machine (with `battery`, `storage`, `environment`, `gnss` and `trust`);
`video` writes real H.264 clips; `docking`, `rfid` and `holster` are the accessories.
`docklink` is the protocol between a controller and a docked camera, served per station
by `docklink_server` and spoken by `docklink_client`; `scenario` and `simulate` run
`bodyworn simulate`.
Nothing here imports a web framework or SQL.
"""
