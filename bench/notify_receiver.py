"""A webhook receiver for the notification benchmark: records (entity id, value, arrival).

``POST /notify``: an NGSI-LD notification; every entity in ``data`` is recorded with the time it
arrived (wall clock, so the benchmark can compare it with when the update was acknowledged).
``GET /stats``: how many notifications and entities arrived. ``GET /records``: all of them.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

records: list[tuple[str, Any, float]] = []
notifications = 0


async def _body(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Record notifications; report them."""
    global notifications
    if scope["type"] != "http":
        return
    body = await _body(receive)
    path = scope["path"]
    if path == "/notify":
        now = time.time()
        note = orjson.loads(body)
        notifications += 1
        for entity in note.get("data", []):
            value = entity.get("value")
            if isinstance(value, dict):
                value = value.get("value")
            records.append((entity["id"], value, now))
        await _answer(send, 204)
    elif path == "/stats":
        await _answer(
            send, 200, orjson.dumps({"notifications": notifications, "entities": len(records)})
        )
    elif path == "/records":
        await _answer(send, 200, orjson.dumps(records))
    else:
        await _answer(send, 404)
