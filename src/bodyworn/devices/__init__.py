"""Simulated hardware: cameras, docking stations, RFID reader, holster sensors.

`feedback` holds the manual's LED, daily-use and error tables as data; `camera` is the
W100 state machine (with `battery`, `storage`, `environment`, `gnss` and `trust`);
`video` writes real H.264 clips; `docking`, `rfid` and `holster` are the accessories.
Nothing here imports a web framework or SQL.
"""
