"""The app side of the wireless link: beacons, the pinned TLS link, pairing, sessions, media.

Every call after the beacons goes over TLS to one camera, chosen by its server name
(`wire.camera_host`), and is verified against the system CA the pairing pinned; nothing
is sent to a camera the system did not certify. Refusals come back as WirelessRefused
with the camera's reason code, which the app turns into its own words.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx

from bodyworn.wireless import wire
from bodyworn.wireless.certs import client_context
from bodyworn.wireless.messages import (
    Annotation,
    Beacon,
    CameraStatus,
    Grant,
    MessageError,
    Paired,
    PairRequest,
    RecordingSummary,
    SessionRequest,
    WirelessRefused,
)
from bodyworn.wireless.pairing import sign_as_device

__all__ = ["CameraLink", "beacons", "fetch_ca"]


def _refusal(response: httpx.Response, body: bytes) -> WirelessRefused:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return WirelessRefused(response.status_code, str(data.get("reason", "")),
                               str(data.get("error", "")), data)
    return WirelessRefused(response.status_code, "", body[:200].decode("utf-8", "replace"))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise MessageError(f"the camera's reply is not JSON: {exc}") from exc


async def beacons(air_url: str, *, timeout: float = 5.0) -> list[Beacon]:
    """The cameras in range. The listing is public (like a radio advertisement): it is read
    without verifying the air's certificate and nothing is sent but the request."""
    async with httpx.AsyncClient(verify=False, timeout=timeout) as client:  # noqa: S501
        response = await client.get(f"{air_url.rstrip('/')}{wire.BEACONS_PATH}")
    if response.status_code >= 300:
        raise _refusal(response, response.content)
    data = _json(response)
    if not isinstance(data, list):
        raise MessageError("beacons: a JSON list expected")
    return [Beacon.from_json(item) for item in data]


async def fetch_ca(air_url: str, serial: str, *, timeout: float = 5.0) -> bytes:
    """The system CA certificate a camera hands out. Unverified: the caller pins it by its
    key's fingerprint (certs.pinned_ca) before trusting anything with it."""
    async with httpx.AsyncClient(verify=False, timeout=timeout) as client:  # noqa: S501
        response = await client.get(
            f"{air_url.rstrip('/')}{wire.CA_PATH}",
            extensions={"sni_hostname": wire.camera_host(serial)})
    if response.status_code >= 300:
        raise _refusal(response, response.content)
    return response.content


class CameraLink:
    """One camera over TLS verified against the pinned system CA."""

    def __init__(self, air_url: str, serial: str, ca_pem: bytes, *,
                 timeout: float = 15.0) -> None:
        self.serial = serial
        self._client = httpx.AsyncClient(base_url=air_url.rstrip("/"),
                                         verify=client_context(ca_pem), timeout=timeout)
        self.token: str | None = None

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def __aenter__(self) -> CameraLink:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # ---- transport ---------------------------------------------------------------------

    async def send(self, method: str, path: str, *, data: object = None,
                   headers: dict[str, str] | None = None, stream: bool = False
                   ) -> httpx.Response:
        """One request to this camera; WirelessRefused unless 2xx."""
        all_headers = dict(headers or {})
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        content = None
        if data is not None:
            content = json.dumps(data).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        request = self._client.build_request(
            method, path, content=content, headers=all_headers,
            extensions={"sni_hostname": wire.camera_host(self.serial)})
        response = await self._client.send(request, stream=stream)
        if response.status_code >= 300:
            body = await response.aread()
            await response.aclose()
            raise _refusal(response, body)
        return response

    async def _call(self, method: str, path: str, data: object = None) -> Any:
        return _json(await self.send(method, path, data=data))

    # ---- pairing and sessions ----------------------------------------------------------

    async def pair(self, request: PairRequest) -> Paired:
        """Complete a pairing with the QR code's secret and the PIN."""
        return Paired.from_json(await self._call("POST", wire.PAIR_PATH, request.to_json()))

    async def open_session(self, pairing_id: str, device_private_pem: bytes) -> Grant:
        """Prove the device key on the camera's challenge; later calls carry the token."""
        self.token = None
        challenge = await self._call("GET", wire.CHALLENGE_PATH)
        text = challenge.get("challenge") if isinstance(challenge, dict) else None
        if not isinstance(text, str):
            raise MessageError("challenge: challenge must be text")
        signature = sign_as_device(device_private_pem,
                                   wire.session_message(self.serial, pairing_id, text))
        grant = Grant.from_json(await self._call("POST", wire.SESSION_PATH, SessionRequest(
            pairing_id, text, base64.b64encode(signature).decode("ascii")).to_json()))
        self.token = grant.token
        return grant

    async def close_session(self) -> None:
        """End the session on the camera."""
        if self.token is not None:
            try:
                await self.send("DELETE", wire.SESSION_PATH)
            finally:
                self.token = None

    # ---- what a session may do ---------------------------------------------------------

    async def status(self) -> CameraStatus:
        """The camera's status (user, battery, what the app may do)."""
        return CameraStatus.from_json(await self._call("GET", wire.INFO_PATH))

    async def recordings(self) -> list[RecordingSummary]:
        """The finished recordings still on the camera, newest first."""
        data = await self._call("GET", wire.RECORDINGS_PATH)
        if not isinstance(data, list):
            raise MessageError("recordings: a JSON list expected")
        return [RecordingSummary.from_json(item) for item in data]

    async def annotate(self, recording_id: str, annotation: Annotation) -> RecordingSummary:
        """Set a recording's category and notes on the camera."""
        path = f"{wire.RECORDINGS_PATH}/{quote(recording_id, safe='')}/annotation"
        return RecordingSummary.from_json(await self._call("PUT", path, annotation.to_json()))

    async def clip(self, name: str, range_header: str | None = None) -> httpx.Response:
        """A clip's bytes (all, or the range asked for) as a stream the caller closes."""
        headers = {"Range": range_header} if range_header else None
        path = f"{wire.CLIPS_PATH}/{quote(name, safe='')}"
        return await self.send("GET", path, headers=headers, stream=True)

    async def live(self) -> httpx.Response:
        """The live picture as fragmented MP4, a stream the caller closes."""
        return await self.send("GET", wire.LIVE_PATH, stream=True)
