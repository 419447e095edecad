"""The dock link protocol between a controller and a docked camera (docs/dock-link.md).

A library both sides import, free of web frameworks and SQL: `wire` (paths, headers,
signature base strings, time and profile JSON), `signing` (sign and verify with the system
identity key), `messages` (the typed JSON bodies, parsed strictly) and `client` (the
controller side's signing httpx client). The camera side lives in the simulators
(`bodyworn.devices.docklink_server`).
"""
