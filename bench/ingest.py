"""IoT ingest benchmark: measures over MQTT (real broker, QoS 1) into entities.

Starts a Mosquitto broker from the installed binary, configured for lossless ingest
(``max_queued_messages 0``: Mosquitto's default of 1,000 drops QoS 1 messages queued for a slow
subscriber; ``max_inflight_messages 1000``), or uses ``--broker host:port``; starts ``cityhub
serve --mqtt`` (SQLite, durable writes), provisions a service group, then:

1. **throughput**: ``--measures`` messages (one measure each, over ``--devices`` devices) are
   published as fast as the broker takes them; measures/s = messages stored / seconds from the
   first publish to the last stored; lost = published − stored − dead-lettered (must be 0).

2. **latency**: for each of ``--rates`` (measures/s), background measures are published at that
   rate for ``--seconds`` while a probe device sends a measure every 50 ms and polls
   ``GET /ngsi-ld/v1/entities/{probe}`` until the value shows: publish → visible in an NGSI-LD
   query, p50 / p99 over the probes. A rate above what the hub sustains builds a backlog, and
   the latency grows with it for the whole run: the table shows that too.

    python bench/ingest.py [--measures 100000] [--devices 1000] [--rates 1000,2500,5000]
                           [--seconds 15] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import Proc, free_port, markdown_table  # noqa: E402

TENANT = {"fiware-service": "bench"}
LD = {"NGSILD-Tenant": "bench"}


def mosquitto(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway Mosquitto on a free port, set up as cityhub's ingest needs."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = Path(tmp) / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 1000\n"
    )
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"127.0.0.1:{port}"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def hub(data: str, broker: str, client_id: str) -> Proc:
    return Proc(
        [
            sys.executable,
            "-c",
            "import os, sys; os.environ['CITYHUB_MQTT_CLIENT_ID'] = sys.argv.pop(1); "
            "from cityhub.cli import main; sys.argv[0] = 'cityhub'; main()",
            client_id,
            "serve",
            "--port",
            "{port}",
            "--data-dir",
            data,
            "--mqtt",
            f"mqtt://{broker}",
            "--log-level",
            "warning",
            "--auth",
            "off",  # loopback benchmark: measure the hub, not access control
        ],
        "/version",
    )


def measures_in_history(c: httpx.Client, devices: int) -> int:
    """Instances of ``v`` recorded, over every device (the temporal API counts them)."""
    total = 0
    for start in range(0, devices, 100):
        r = c.get(
            "/ngsi-ld/v1/temporal/entities",
            params={
                "type": "Meter",
                "attrs": "v",
                "limit": "100",
                "offset": str(start),
                "options": "aggregatedValues",
                "aggrMethods": "totalCount",
                "timerel": "after",
                "timeAt": "1970-01-01T00:00:00Z",
            },
            headers=LD,
        )
        r.raise_for_status()
        for e in r.json():
            total += sum(p[0] for p in e.get("v", {}).get("totalCount", []))
    return total


#: the publisher keeps up to 1,000 messages in flight on purpose: aiomqtt's warning about
#: "pending publish calls" (one line per message past 10) is not news here
logging.getLogger("mqtt").setLevel(logging.ERROR)


async def publish(broker: str, key: str, n: int, devices: int, rate: float | None) -> list[float]:
    host, port = broker.split(":")
    acks: list[float] = []
    start = time.monotonic()
    async with aiomqtt.Client(host, int(port), max_inflight_messages=1000) as pub:
        pending = set()
        for i in range(n):
            if rate is not None:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = time.monotonic()
            task = asyncio.ensure_future(
                pub.publish(f"/{key}/m{i % devices}/attrs", f'{{"v": {i}}}'.encode(), qos=1)
            )
            task.add_done_callback(lambda _t, t0=t0: acks.append(time.monotonic() - t0))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if len(pending) >= 500:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending)
    return acks


async def probe_latency(
    broker: str, key: str, base_url: str, rate: float, seconds: float, devices: int
) -> tuple[list[float], float, int]:
    """(probe latencies in s, background rate reached, probes not visible within 10 s)."""
    host, port = broker.split(":")
    t0 = time.monotonic()
    load = asyncio.ensure_future(publish(broker, key, int(rate * seconds), devices, rate))
    found: list[float] = []
    missed, k = 0, 0
    url = f"/ngsi-ld/v1/entities/urn:ngsi-ld:Meter:probe-{key}"
    params = {"attrs": "v", "options": "keyValues"}
    async with (
        aiomqtt.Client(host, int(port)) as pub,
        httpx.AsyncClient(base_url=base_url, headers=LD, timeout=30) as c,
    ):
        while not load.done():
            k += 1
            sent = time.monotonic()
            await pub.publish(f"/{key}/probe-{key}/attrs", f'{{"v": {k}}}'.encode(), qos=1)
            while True:
                r = await c.get(url, params=params)
                if r.status_code == 200 and r.json().get("v") == k:
                    found.append(time.monotonic() - sent)
                    break
                if time.monotonic() - sent > 10:
                    missed += 1
                    break
                await asyncio.sleep(0.002)
            await asyncio.sleep(0.05)
    await load
    return found, int(rate * seconds) / (time.monotonic() - t0), missed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", help="host:port of a broker to use instead of our own")
    parser.add_argument("--measures", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rates", default="1000,2500,5000", help="latency runs, measures/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of a latency run")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.measures, args.devices, args.rates, args.seconds = 5000, 100, "500", 3.0
    key = f"bench{uuid.uuid4().hex[:6]}"
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        broker_proc, broker = (None, args.broker) if args.broker else mosquitto(tmp)
        args.broker = broker
        server = hub(tmp, args.broker, f"cityhub-{key}")
        try:
            c = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=120)
            group = {"apikey": key, "entity_type": "Meter"}
            c.post("/iot/services", json={"services": [group]}, headers=TENANT).raise_for_status()
            deadline = time.monotonic() + 30
            while not c.get("/cityhub/v1/status").json()["mqttIngest"]["subscribed"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("cityhub did not subscribe to the broker")
                time.sleep(0.05)
            t0 = time.monotonic()
            acks = asyncio.run(publish(args.broker, key, args.measures, args.devices, None))
            published = time.monotonic() - t0
            got, last_change, last = 0, time.monotonic(), -1
            while got < args.measures and time.monotonic() - last_change < 30:
                got = measures_in_history(c, args.devices)
                if got != last:
                    last, last_change = got, time.monotonic()
                time.sleep(0.5)
            seconds = last_change - t0
            letters = c.get("/iot/dead-letters", headers=TENANT).json()["count"]
            rows.append(
                [
                    f"MQTT QoS 1 → stored: {args.measures:,} measures, {args.devices:,} devices",
                    f"{got / seconds:,.0f} measures/s",
                    f"lost {args.measures - got - letters}, dead letters {letters}; published in "
                    f"{published:.1f} s ({args.measures / published:,.0f}/s, broker ack p50 "
                    f"{statistics.median(acks) * 1000:.1f} ms)",
                ]
            )
            base_url = f"http://127.0.0.1:{server.port}"
            for rate in (float(r) for r in args.rates.split(",") if r):
                found, reached, missed = asyncio.run(
                    probe_latency(args.broker, key, base_url, rate, args.seconds, args.devices)
                )
                rows.append(
                    [
                        f"publish → visible in an NGSI-LD query, at {rate:,.0f} measures/s",
                        f"p50 {pct(found, 50) * 1000:,.0f} ms, p99 {pct(found, 99) * 1000:,.0f} ms",
                        f"{len(found)} probes over {args.seconds:.0f} s, {missed} not visible "
                        f"within 10 s; background published at {reached:,.0f}/s",
                    ]
                )
        finally:
            server.stop()
            if broker_proc is not None:
                broker_proc.terminate()
    markdown_table(rows)


if __name__ == "__main__":
    main()
