"""Subscription benchmark: notifications lost, duplicated and late, and the cost of matching.

Runs a cityhub server (SQLite, durable writes) and a webhook receiver (bench/notify_receiver.py)
as separate processes on this machine, then:

1. **burst**: 5,000 entities, 1,000 subscriptions (each selects 5 entities by id), 50,000
   partial updates sent as fast as the server takes them; every update must reach the receiver:
   lost = updates never notified, duplicates = (entity, value) pairs notified more than once;
2. **latency**: updates paced at 1,000/s for 10 s; latency = webhook arrival − the moment the
   update was acknowledged (p50, p99), next to the updates' own round trip in the same run;
3. **overhead**: partial-update throughput with 100 active subscriptions (each update matches
   one, so notifications are built and delivered during the run) vs the same run with none,
   in alternating rounds (the median ratio is reported).

    python bench/notify.py [--updates 50000] [--entities 5000] [--subscriptions 1000] [--rounds 5]
                           [--only burst|overhead] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.run import Proc, cityhub, drive, markdown_table  # noqa: E402

JSON = "application/json"
E = "/ngsi-ld/v1/entities"


def receiver() -> Proc:
    return Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.notify_receiver:app",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        "/stats",
    )


def eid(i: int) -> str:
    return f"urn:ngsi-ld:Sensor:{i:06d}"


def load_entities(hub: Proc, n: int) -> None:
    ents = [
        {"id": eid(i), "type": "Sensor", "value": {"type": "Property", "value": -1}}
        for i in range(n)
    ]
    with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=60) as c:
        for start in range(0, n, 1000):
            r = c.post("/ngsi-ld/v1/entityOperations/upsert", json=ents[start : start + 1000])
            r.raise_for_status()


def subscribe(hub: Proc, recv: Proc, n_subs: int, n_entities: int) -> None:
    """Subscription k selects entities k*per … k*per+per-1 by id (each entity in one)."""
    per = max(1, n_entities // n_subs)
    with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=60) as c:
        for k in range(n_subs):
            body = {
                "type": "Subscription",
                "entities": [
                    {"id": eid(i), "type": "Sensor"} for i in range(k * per, (k + 1) * per)
                ],
                "watchedAttributes": ["value"],
                "notification": {
                    "endpoint": {"uri": f"http://127.0.0.1:{recv.port}/notify"},
                    "format": "keyValues",
                    "attributes": ["value"],
                },
            }
            c.post("/ngsi-ld/v1/subscriptions", json=body).raise_for_status()


def update(i: int, n_entities: int, base: int = 0) -> loadgen.Request:
    """The i-th update: entity i mod n gets the value base+i (unique per update)."""
    body = orjson.dumps({"value": base + i})
    return ("PATCH", f"{E}/{eid(i % n_entities)}/attrs/value", body, JSON)


def wait_for(recv: Proc, expected: int, timeout_s: float) -> tuple[int, float]:
    """Wait until ``expected`` entities arrived or nothing new arrives for ``timeout_s``."""
    last, since = -1, time.monotonic()
    with httpx.Client(base_url=f"http://127.0.0.1:{recv.port}", timeout=30) as c:
        while True:
            got = c.get("/stats").json()["entities"]
            if got >= expected:
                return got, time.monotonic() - since
            if got != last:
                last, since = got, time.monotonic()
            elif time.monotonic() - since > timeout_s:
                return got, time.monotonic() - since
            time.sleep(0.2)


def records(recv: Proc) -> list[tuple[str, Any, float]]:
    with httpx.Client(base_url=f"http://127.0.0.1:{recv.port}", timeout=120) as c:
        return [tuple(r) for r in c.get("/records").json()]  # type: ignore[misc]


async def paced(
    port: int, n: int, rate: float, n_entities: int, base: int
) -> tuple[dict[int, float], list[float]]:
    """Send ``n`` updates at ``rate``/s; the wall-clock acknowledgement time of each value, and
    each update's round trip (ms: the baseline a notification's latency compares with)."""
    acked: dict[int, float] = {}
    trips: list[float] = []
    counter = iter(range(n))
    start = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.time()
                writer.write(loadgen._encode(update(i, n_entities, base), f"127.0.0.1:{port}"))
                status = await loadgen._read_response(reader)
                if status == 204:
                    acked[base + i] = time.time()
                    trips.append((acked[base + i] - sent) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(32)))
    return acked, trips


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def burst(args: argparse.Namespace, rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hub, recv = cityhub(f"sqlite:///{tmp}/hub.db"), receiver()
        try:
            load_entities(hub, args.entities)
            subscribe(hub, recv, args.subscriptions, args.entities)
            wait_for(
                recv, args.entities, 1
            )  # nothing expected: the entities predate the subscriptions
            res = drive(hub.port, lambda i: update(i, args.entities), args.updates, 16)
            errors = {s: c for s, c in res.statuses.items() if s >= 300}
            got, _ = wait_for(recv, args.updates, 30)
            drained = time.perf_counter()
            recs = records(recv)
            seen = Counter(v for _i, v, _t in recs if isinstance(v, int) and v >= 0)
            lost = sum(1 for v in range(args.updates) if v not in seen)
            dup = sum(c - 1 for c in seen.values() if c > 1)
            rows.append(
                [
                    f"burst: {args.updates:,} updates, {args.entities:,} entities, "
                    f"{args.subscriptions:,} subscriptions",
                    f"lost {lost}, duplicated {dup}",
                    f"updates {res.rate:,.0f}/s {errors or ''}; {got:,} notified entities",
                ]
            )
            del drained
            # latency at a steady rate
            n = int(args.rate * args.seconds)
            base = 10_000_000
            acked, trips = asyncio.run(paced(hub.port, n, args.rate, args.entities, base))
            wait_for(recv, len(recs) + n, 10)
            arrivals = {v: t for _i, v, t in records(recv) if isinstance(v, int) and v >= base}
            lat = [(arrivals[v] - t) * 1000 for v, t in acked.items() if v in arrivals]
            missing = len(acked) - len(lat)
            rows.append(
                [
                    f"latency at {args.rate:,.0f} updates/s for {args.seconds:.0f} s",
                    f"p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 99):.1f} ms",
                    f"{len(acked):,} acknowledged, {missing} not notified; the update's own "
                    f"round trip: p50 {statistics.median(trips):.1f} ms, p99 {pct(trips, 99):.1f} ms",
                ]
            )
        finally:
            hub.stop()
            recv.stop()


def unsubscribe_all(hub: Proc) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=60) as c:
        for sub in c.get("/ngsi-ld/v1/subscriptions", params={"limit": 1000}).json():
            c.delete(f"/ngsi-ld/v1/subscriptions/{sub['id']}").raise_for_status()


def overhead(args: argparse.Namespace, rows: list[list[str]]) -> None:
    """Alternates runs without and with 100 subscriptions (this machine is shared and noisy);
    reports the median of the rounds' ratios."""
    n_entities, n = 1000, args.overhead_updates
    with tempfile.TemporaryDirectory() as tmp:
        hub, recv = cityhub(f"sqlite:///{tmp}/hub.db"), receiver()
        try:
            load_entities(hub, n_entities)
            ratios, bare_rates, sub_rates, notified, base = [], [], [], 0, 0
            for _round in range(args.rounds):
                bare = drive(hub.port, lambda i, b=base: update(i, n_entities, b), n, 16)
                base += n
                subscribe(hub, recv, 100, n_entities)
                before = wait_for(recv, 0, 0)[0]
                subbed = drive(hub.port, lambda i, b=base: update(i, n_entities, b), n, 16)
                base += n
                notified += wait_for(recv, before + n, 30)[0] - before
                unsubscribe_all(hub)
                ratios.append(subbed.rate / bare.rate)
                bare_rates.append(bare.rate)
                sub_rates.append(subbed.rate)
            rows.append(
                [
                    f"update throughput, 100 subscriptions vs none (median of {args.rounds})",
                    f"{statistics.median(ratios):.2f}×",
                    f"{statistics.median(sub_rates):,.0f}/s vs {statistics.median(bare_rates):,.0f}/s"
                    f" (rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
                    f"{notified:,} of {n * args.rounds:,} notified",
                ]
            )
        finally:
            hub.stop()
            recv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--subscriptions", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--overhead-updates", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="overhead: rounds of each")
    parser.add_argument("--only", choices=["burst", "overhead"], help="run one part")
    parser.add_argument("--quick", action="store_true", help="a small run to check it works")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.entities, args.subscriptions = 5_000, 500, 100
        args.seconds, args.overhead_updates, args.rounds = 3.0, 3_000, 1
    rows: list[list[str]] = []
    if args.only != "overhead":
        burst(args, rows)
    if args.only != "burst":
        overhead(args, rows)
    markdown_table(rows)


if __name__ == "__main__":
    main()
