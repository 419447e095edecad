"""The deliver loop's one client of the content destination."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.controller.ports import CdClientFactory


class FixedClients:
    """A CdClientFactory over a plain function (tests and benchmarks give one)."""

    def __init__(self, make: Callable[[], CDClient]) -> None:
        self._make = make

    def key(self) -> str:
        """Always the same: the one client is kept."""
        return "fixed"

    def make(self, retry: RetryPolicy) -> CDClient:
        """A client from the function (its own retry policy)."""
        return self._make()


class CdLink:
    """Keeps one client on the loop's event loop; a new one when the connection file changes."""

    def __init__(self, clients: CdClientFactory, retry: RetryPolicy) -> None:
        self._clients = clients
        self._retry = retry
        self._cd: CDClient | None = None
        self._key: str | None = None

    async def client(self) -> CDClient:
        """The client (LookupError before setup)."""
        key = await asyncio.to_thread(self._clients.key)
        if self._cd is None or self._key != key:
            await self.aclose()
            self._cd = self._clients.make(self._retry)
            self._key = key
        return self._cd

    async def aclose(self) -> None:
        """Close the client (the next `client()` makes a new one)."""
        if self._cd is not None:
            cd, self._cd = self._cd, None
            await cd.aclose()
