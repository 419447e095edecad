"""The camera's wireless link: the protocol between AXIS Body Worn Assistant and a camera.

A library without a web framework, like `docklink/`: the camera simulator serves it
(`devices/wireless_server.py`), the Assistant app calls it (`assistant/`), and the
controller uses its pairing codes and certificates (`controller/assistant_pairing/`).
See docs/assistant.md.

- `wire.py`      paths, host names, time limits, the session signature's bytes
- `pairing.py`   the QR code's text, the PIN, their verifiers, device fingerprints
- `certs.py`     the system CA made from the identity key, camera certificates, pinning
- `messages.py`  typed messages of the wireless API
- `client.py`    the app side: beacons, the pinned TLS link, pairing, sessions, media
"""
