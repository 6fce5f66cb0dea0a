"""A small HTTP/1.1 keep-alive load generator on asyncio streams (no dependencies).

Each of ``concurrency`` connections sends a request, reads the whole response, sends the next.
Used against cityhub and against a bare ASGI baseline in the same run, so the ratio between
them cancels out the cost of this generator and the noise of a shared machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Request = tuple[str, str, bytes, str]  # method, path, body, content-type


@dataclass
class Result:
    """Requests done, seconds taken, per-request latencies and status counts."""

    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def _encode(req: Request, host: str, extra: str = "") -> bytes:
    method, path, body, ctype = req
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n{extra}"
    if body:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run(
    host: str,
    port: int,
    make: Callable[[int], Request],
    total: int,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
) -> Result:
    """Send ``total`` requests (``make(i)`` builds the i-th) over ``concurrency`` connections,
    each with ``headers`` (e.g. Authorization)."""
    result = Result()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    counter = iter(range(total))
    hostname = f"{host}:{port}"

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                data = _encode(make(i), hostname, extra)
                t0 = time.perf_counter()
                writer.write(data)
                status = await _read_response(reader)
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.count += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result
