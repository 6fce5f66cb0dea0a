"""Server-sent-event streams fed from the change stream: the open streams with their filters,
a bounded queue each, keep-alives, and closing a stream that cannot keep up rather than holding
memory. The live event feed (cityhub/ops/live.py) and the map's change feed
(cityhub/web/changes.py) decide what goes in; this module delivers it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

F = TypeVar("F")
QUEUE = 1000  # frames a slow stream may fall behind before it is closed
KEEPALIVE_S = 15.0
OVERFLOW = b"event: overflow\ndata: {}\n\n"


class Streams(Generic[F]):
    """The open streams, each with the filter ``F`` of its client."""

    def __init__(self) -> None:
        self._open: dict[asyncio.Queue[bytes | None], F] = {}

    def __len__(self) -> int:
        return len(self._open)

    def items(self) -> list[tuple[asyncio.Queue[bytes | None], F]]:
        """(queue, filter) of every open stream (a copy: offering may close some)."""
        return list(self._open.items())

    def offer(self, queue: asyncio.Queue[bytes | None], frame: bytes) -> None:
        """Queue a frame for one stream; one that fell too far behind is told so and closed."""
        if queue.qsize() >= QUEUE - 1:
            self._open.pop(queue, None)
            queue.put_nowait(OVERFLOW)
            queue.put_nowait(None)
        else:
            queue.put_nowait(frame)

    async def stream(self, wanted: F, hello: bytes) -> AsyncIterator[bytes]:
        """Frames for one client, from ``hello`` on, until it goes away (or falls behind)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE)
        self._open[queue] = wanted
        try:
            yield hello
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if frame is None:
                    return
                yield frame
        finally:
            self._open.pop(queue, None)
