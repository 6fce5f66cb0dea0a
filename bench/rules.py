"""Situation rules under load: change committed → event on the live feed.

Starts a hub (SQLite, durable writes, auth off, loopback), creates ``--rules`` threshold rules
on AirQualityObserved (all evaluated on every change; one of them, on ``pm10>=900``, is the
probe), then updates ``--stations`` stations at ``--rate`` changes/s (batches of 100) for
``--seconds``. Meanwhile a probe station is pushed over the probe threshold every 200 ms; the
time from its write being acknowledged to its event arriving on the live feed
(``/cityhub/v1/events/stream``) is the event-raise latency (p50/p99), next to the bare write
round trip of the same run. The load goes over ``--loaders`` connections at once. Once it
stops, the time every change-log consumer (history, the air service, the rules, ...) still
needs to catch up is printed too: a rate is sustained only if that stays near zero.

    python bench/rules.py [--rules 1000] [--rate 1000] [--seconds 20] [--loaders 4]
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import cityhub, markdown_table, settle  # noqa: E402

AQ = "AirQualityObserved"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def listen(url: str, got: queue.Queue[tuple[float, str]], ready: threading.Event) -> None:
    try:
        with (
            httpx.Client(timeout=None) as c,
            c.stream("GET", url, params={"eventCode": "PROBE"}) as r,
        ):
            ready.set()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event.get("op") == "create":
                        got.put((time.monotonic(), str(event.get("refRelatedEntity", ""))))
    except httpx.TransportError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--loaders", type=int, default=4, help="connections sending the load, each rate/N"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub = cityhub(f"sqlite:///{tmp}/rules.db")
        base = f"http://127.0.0.1:{hub.port}"
        try:
            c = httpx.Client(base_url=base, timeout=60)
            for i in range(args.rules - 1):
                rule = {
                    "id": f"r{i:04d}",
                    "kind": "threshold",
                    "entityType": AQ,
                    "q": f"pm25>={200 + i % 300}",
                    "for": "PT1H",
                    "event": {"eventCode": f"ENV{i:04d}", "eventName": "초미세먼지"},
                }
                c.post("/cityhub/v1/rules", json=rule).raise_for_status()
            probe_rule = {
                "id": "probe",
                "kind": "threshold",
                "entityType": AQ,
                "q": "pm10>=900",
                "event": {"eventCode": "PROBE", "eventName": "probe"},
            }
            c.post("/cityhub/v1/rules", json=probe_rule).raise_for_status()
            got: queue.Queue[tuple[float, str]] = queue.Queue()
            ready = threading.Event()
            threading.Thread(
                target=listen, args=(f"{base}/cityhub/v1/events/stream", got, ready), daemon=True
            ).start()
            ready.wait(10)
            stop = time.monotonic() + args.seconds
            sent = [0] * args.loaders

            def load(seed: int) -> None:
                # one connection of several: a single one would wait for each answer in turn
                # and measure its round trip, not the hub (100 changes per 12 ms = 8,000/s)
                rate = args.rate / args.loaders
                lrng = random.Random(seed)
                with httpx.Client(base_url=base, timeout=60) as lc:
                    start, n = time.monotonic(), 0
                    while time.monotonic() < stop:
                        batch = [
                            {
                                "id": f"urn:ngsi-ld:{AQ}:s{lrng.randrange(args.stations):05d}",
                                "type": AQ,
                                "pm25": {"type": "Property", "value": lrng.uniform(5, 60)},
                            }
                            for _ in range(100)
                        ]
                        lc.post(
                            "/ngsi-ld/v1/entityOperations/upsert",
                            params={"options": "update"},
                            json=batch,
                        ).raise_for_status()
                        n += 100
                        sent[seed] = n
                        delay = start + n / rate - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)

            loaders = [
                threading.Thread(target=load, args=(i,), daemon=True) for i in range(args.loaders)
            ]
            t0 = time.monotonic()
            for loader in loaders:
                loader.start()
            latencies, writes, k = [], [], 0
            while time.monotonic() < stop:
                k += 1
                place = f"probe-{k}"
                body = {
                    "id": f"urn:ngsi-ld:{AQ}:{place}",
                    "type": AQ,
                    "placeName": {"type": "Property", "value": place},
                    "pm10": {"type": "Property", "value": 999},
                }
                w0 = time.monotonic()
                c.post("/ngsi-ld/v1/entities", json=body).raise_for_status()
                acked = time.monotonic()
                writes.append(acked - w0)
                try:
                    while True:
                        at, name = got.get(timeout=10)
                        if name == body["id"]:
                            latencies.append(at - acked)
                            break
                except queue.Empty:
                    latencies.append(10.0)
                time.sleep(0.2)
            for loader in loaders:
                loader.join(timeout=60)
            rate = sum(sent) / (time.monotonic() - t0)
            # a rate is only sustained if every change consumer (history, air, rules, ...)
            # kept up with it: how long they still had to work once the load stopped
            behind_s = settle(hub)
            c.close()
        finally:
            hub.stop()
    markdown_table(
        [
            [
                f"change acknowledged → event on the live feed ({args.rules:,} rules, "
                f"{rate:,.0f} changes/s)",
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p99 {pct(latencies, 99) * 1000:.0f} ms",
                f"{len(latencies)} probes; the probe write itself: p50 "
                f"{statistics.median(writes) * 1000:.1f} ms; target rate {args.rate:,.0f}/s; "
                f"consumers caught up {behind_s:.1f} s after the load stopped",
            ]
        ]
    )


if __name__ == "__main__":
    main()
