"""AXIS Body Worn Assistant as a web app (docs/assistant.md).

`bodyworn assistant` runs the app's service on the phone; the phone's browser is its
screen. The service holds the device key and the one pairing, reaches the user's camera
over the wireless link (`bodyworn.wireless`), and serves the screen: recordings with a
watermark, live view, location, categories and notes.
"""
