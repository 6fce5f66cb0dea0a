"""A real HTTP/1.1 notification receiver for the tests, on a free local port.

It records every request (headers, body, arrival time) and answers with the statuses queued in
``statuses`` (then ``default_status``); with ``hang`` set it never answers. Keep-alive works, so
clients reuse their connections as they would with a real receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Received:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> Any:
        """The body, parsed."""
        return orjson.loads(self.body)


@dataclass(slots=True)
class Receiver:
    """Records requests; answers per ``statuses`` / ``default_status``, or hangs."""

    statuses: deque[int] = field(default_factory=deque)
    default_status: int = 200
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[Any]] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the base URL."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def wait_for(self, count: int, within_s: float = 10.0) -> list[Received]:
        """The requests once there are at least ``count`` (AssertionError after ``within_s``)."""
        deadline = time.monotonic() + within_s
        while len(self.requests) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.requests)} requests after {within_s} s, not {count}"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.1))
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, path, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, path, headers, body, time.monotonic()))
        self._arrived.set()
        if self.hang:
            await asyncio.sleep(3600)
        status = self.statuses.popleft() if self.statuses else self.default_status
        text = b"ok" if status < 300 else b"receiver says no"
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(text)}\r\n\r\n".encode()
            + text
        )
        await writer.drain()
        return True
