"""No acknowledged measure is lost: MQTT ingest across a kill -9 of cityhub (real Mosquitto)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx
import pytest

from tests.mqttserver import mqtt_broker
from tests.test_cli import Server

pytestmark = pytest.mark.slow
TOTAL = 600


def _publish(host: str, port: int, key: str, first: int, last: int, pace_s: float) -> None:
    async def run() -> None:
        async with aiomqtt.Client(host, port) as pub:
            for n in range(first, last):
                await pub.publish(f"/{key}/meter-{n}/attrs", f'{{"n": {n}}}'.encode(), qos=1)
                await asyncio.sleep(pace_s)

    asyncio.run(run())


def _stored(url: str) -> int:
    r = httpx.get(
        f"{url}/ngsi-ld/v1/entities",
        params={"type": "WaterConsumptionObserved", "count": "true", "limit": "0"},
        headers={"NGSILD-Tenant": "suwon"},
        timeout=10,
    )
    return int(r.headers.get("NGSILD-Results-Count", "0")) if r.status_code == 200 else 0


def provision_and_wait(url: str, key: str) -> None:
    """A service group for meters under ``key`` (tenant suwon), then wait until cityhub is
    subscribed (what is published before that is not for it)."""
    group = {"apikey": key, "entity_type": "WaterConsumptionObserved"}
    r = httpx.post(
        f"{url}/iot/services",
        json={"services": [group]},
        headers={"fiware-service": "suwon"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/cityhub/v1/status", timeout=10).json()
        if status["mqttIngest"]["subscribed"]:
            return
        time.sleep(0.05)
    raise AssertionError("cityhub did not subscribe")


def test_measures_survive_a_kill_9_of_cityhub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = mqtt_broker()
    key = f"k{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CITYHUB_MQTT_CLIENT_ID", f"cityhub-{key}")
    args = ("--data-dir", str(tmp_path / "data"), "--mqtt", f"mqtt://{host}:{port}")
    srv = Server(*args)
    try:
        provision_and_wait(srv.url, key)
        publisher = threading.Thread(
            target=_publish, args=(host, port, key, 0, TOTAL, 0.002), daemon=True
        )
        publisher.start()
        deadline = time.monotonic() + 30
        while _stored(srv.url) < TOTAL // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        srv.stop(signal.SIGKILL)  # mid-stream: some messages taken, some in flight, some queued
    publisher.join(timeout=60)
    again = Server(*args)
    try:
        deadline = time.monotonic() + 60
        while _stored(again.url) < TOTAL and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _stored(again.url) == TOTAL  # every published measure is stored
        letters = httpx.get(
            f"{again.url}/iot/dead-letters", headers={"fiware-service": "suwon"}, timeout=10
        ).json()
        assert letters["count"] == 0
    finally:
        again.stop()
