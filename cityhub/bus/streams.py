"""Server-sent-event streams fed from the change stream: the open streams with their filters,
a bounded queue each, keep-alives, and closing a stream that cannot keep up rather than holding
memory. :class:`LiveTail` tails the change log for them; the live event feed
(cityhub/ops/live.py) and the map's change feed (cityhub/web/changes.py) decide what goes in,
this module delivers it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from cityhub.bus import Change, ChangeBus
from cityhub.bus.feed import Follower
from cityhub.storage.base import Storage

log = logging.getLogger(__name__)
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


class LiveTail(Generic[F]):
    """One tail of the change log per worker, fanned out to its open streams.

    It tails from where the log stood when the worker started (a live view needs no history),
    taking the worker's own changes from the bus and other workers' writes from the log (looked
    at every ``poll_s``); while no stream is open it reads nothing, it only keeps its place.
    :meth:`fan_out` (the subclass) decides which stream gets which frame."""

    hello = b": cityhub live\n\n"  # the first frame of every stream

    def __init__(self, storage: Storage, bus: ChangeBus, poll_s: float = 0.5) -> None:
        self.storage = storage
        self.poll_s = poll_s
        self._streams: Streams[F] = Streams()
        self._log = Follower(storage, bus, 500)

    @property
    def open_streams(self) -> int:
        """How many clients are listening in this worker."""
        return len(self._streams)

    async def run(self) -> None:
        """Tail the log while the app serves (a background task)."""
        follow = self._log
        await follow.skip()
        while True:
            await follow.wait(self.poll_s)
            if follow.closed():
                return  # shutting down: the storage closes next
            follow.woken.clear()
            try:
                if not self._streams:
                    await follow.skip()  # nobody listens: nothing to read or decode
                    continue
                while True:
                    page = await follow.next()
                    if page.upto == follow.cursor:
                        break
                    follow.cursor = page.upto
                    if self._streams:
                        self.fan_out(page.changes)
            except Exception:  # noqa: BLE001 - a live view goes on after a database hiccup
                if follow.closed():
                    return  # the storage closed under it at shutdown: nothing to report
                log.exception("%s: reading the change log failed", type(self).__name__)

    def fan_out(self, changes: list[Change]) -> None:
        """Offer each change to the streams that want it (``self._streams.offer``)."""
        raise NotImplementedError

    def stream(self, wanted: F) -> AsyncIterator[bytes]:
        """Frames for one client, until it goes away (or falls behind)."""
        return self._streams.stream(wanted, self.hello)

    def close(self) -> None:
        """Stop listening to the bus."""
        self._log.close()
