"""What the embedded CD publishes in its System container: capabilities and categories."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping

from bodyworn.cdclient.capabilities import Category
from bodyworn.destination.store import ObjectStore


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def put_json(store: ObjectStore, account: str, name: str, doc: object) -> None:
    """Store a JSON object in System/ (served with Etag = md5, like any object)."""
    store.put_container(account, "System", {})
    body = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    await store.put_object(
        account,
        "System",
        name,
        _once(body),
        metadata={},
        content_type="application/json",
        expect_md5=None,
    )


async def publish_capabilities(
    store: ObjectStore, account: str, enabled: Mapping[str, Iterable[str]]
) -> None:
    """Write System/Capabilities.json from {section: capability names that are on}."""
    doc = {section: dict.fromkeys(names, True) for section, names in enabled.items()}
    await put_json(store, account, "Capabilities.json", doc)


async def publish_categories(
    store: ObjectStore, account: str, categories: Iterable[Category]
) -> None:
    """Write System/Categories.json as a list of {"Name", "Id"}."""
    await put_json(
        store, account, "Categories.json", [{"Name": c.name, "Id": c.id} for c in categories]
    )
