"""Nearest cameras for a linked-service request: 5 nearest of 10,000 cameras.

Loads ``--cameras`` CCTVCamera entities spread over a city-sized area into a fresh hub (SQLite,
auth off, loopback), then times sequential ``GET /cityhub/v1/cctv/nearest`` requests at random
points, and whole linked-service requests (``POST /cityhub/v1/linked/requests``, 112 video:
event + 5 nearest cameras + video-share grants + stored answer), p50/p95, next to the bare
ASGI baseline's round trip in the same run.

    python bench/cctv.py [--cameras 10000] [--requests 500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import baseline, cityhub, latency, markdown_table  # noqa: E402

# a box around Seoul: about 30 km by 30 km
WEST, SOUTH, EAST, NORTH = 126.80, 37.42, 127.15, 37.69


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        hub, base = cityhub(f"sqlite:///{tmp}/cctv.db"), baseline()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=120) as c:
                batch = []
                for n in range(args.cameras):
                    lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
                    batch.append(
                        {
                            "id": f"urn:ngsi-ld:CCTVCamera:{n:05d}",
                            "type": "CCTVCamera",
                            "heading": {"type": "Property", "value": rng.randrange(360)},
                            "fieldOfView": {"type": "Property", "value": 90},
                            "location": {
                                "type": "GeoProperty",
                                "value": {"type": "Point", "coordinates": [lon, lat]},
                            },
                        }
                    )
                    if len(batch) == 500:
                        c.post("/ngsi-ld/v1/entityOperations/upsert", json=batch).raise_for_status()
                        batch = []
                if batch:
                    c.post("/ngsi-ld/v1/entityOperations/upsert", json=batch).raise_for_status()
            paths = [
                f"/cityhub/v1/cctv/nearest?lon={rng.uniform(WEST, EAST):.6f}"
                f"&lat={rng.uniform(SOUTH, NORTH):.6f}&count=5&maxDistance=500"
                for _ in range(args.requests)
            ]
            b50, b95, _ = latency(base.port, ["/ngsi-ld/v1/entities?type=Entity"] * args.requests)
            p50, p95, statuses = latency(hub.port, paths)
            assert statuses == {200}, statuses
            l50, l95, served = _requests(hub.port, rng, args.requests)
        finally:
            hub.stop()
            base.stop()
    markdown_table(
        [
            [
                f"5 nearest of {args.cameras:,} cameras (GET /cityhub/v1/cctv/nearest)",
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
                f"{args.requests} sequential requests at random points, 500 m radius; bare ASGI "
                f"round trip in the same run p50 {b50:.1f} ms, p95 {b95:.1f} ms",
            ],
            [
                f"linked-service request → response, 5 nearest of {args.cameras:,} cameras",
                f"p50 {l50:.1f} ms, p95 {l95:.1f} ms ({l95 / b95:.1f}× bare ASGI p95)",
                f"{args.requests} sequential 112-video requests at random points (event, "
                f"cameras, grants, stored answer); {served} shared at least one camera",
            ],
        ]
    )


def _requests(port: int, rng: random.Random, count: int) -> tuple[float, float, int]:
    """p50/p95 in ms of sequential linked-service requests, and how many shared cameras."""
    times, served = [], 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        for n in range(count):
            scene = [round(rng.uniform(WEST, EAST), 6), round(rng.uniform(SOUTH, NORTH), 6)]
            body = {
                "service": "112-video",
                "location": {"type": "Point", "coordinates": scene},
                "reference": f"bench-{n}",
                "maxDistance": 500,
            }
            t0 = time.perf_counter()
            r = c.post("/cityhub/v1/linked/requests", json=body)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 201, r.text
            served += bool(r.json()["grants"])
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * len(times)) - 1] * 1000, served


if __name__ == "__main__":
    main()
