"""No acknowledged measure is lost when the broker restarts mid-stream: cityhub reconnects to
its persistent session and takes what the broker kept (real Mosquitto, persistence on)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx
import pytest

from tests.iot.test_mqtt_restart import _stored, provision_and_wait
from tests.mqttserver import Mosquitto
from tests.test_cli import Server

pytestmark = pytest.mark.slow
TOTAL = 600


def _publish_through_restarts(port: int, key: str, done: list[int]) -> None:
    """Publish every measure once the broker acknowledged it, reconnecting while it is down."""

    async def run() -> None:
        n = 0
        while n < TOTAL:
            try:
                async with aiomqtt.Client("127.0.0.1", port, timeout=5) as pub:
                    while n < TOTAL:
                        topic = f"/{key}/meter-{n}/attrs"
                        await pub.publish(topic, f'{{"n": {n}}}'.encode(), qos=1)
                        n += 1  # acknowledged by the broker: it must not be lost
                        done[0] = n
                        await asyncio.sleep(0.002)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)  # the broker is restarting

    asyncio.run(run())


def test_measures_survive_a_broker_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = Mosquitto(persistent=True)
    broker.start()
    key = f"k{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CITYHUB_MQTT_CLIENT_ID", f"cityhub-{key}")
    srv = Server("--data-dir", str(tmp_path / "data"), "--mqtt", f"mqtt://127.0.0.1:{broker.port}")
    try:
        provision_and_wait(srv.url, key)
        published = [0]
        publisher = threading.Thread(
            target=_publish_through_restarts, args=(broker.port, key, published), daemon=True
        )
        publisher.start()
        _wait(lambda: _stored(srv.url) >= TOTAL // 4, "measures did not start arriving")
        broker.stop(keep_dir=True)  # mid-stream: some taken, some in flight, some queued
        time.sleep(1.0)
        broker.start()
        publisher.join(timeout=90)
        assert published[0] == TOTAL
        _wait(lambda: _stored(srv.url) == TOTAL, "not every measure arrived", timeout_s=60)
        letters = httpx.get(
            f"{srv.url}/iot/dead-letters", headers={"fiware-service": "suwon"}, timeout=10
        ).json()
        assert letters["count"] == 0
        assert _subscribed(srv.url)  # reconnected on its own
    except AssertionError:
        print("stored", _stored(srv.url), "published", published[0])  # noqa: T201
        print(srv.output()[-3000:])  # noqa: T201
        print(Path(broker.dir, "mosquitto.log").read_text()[-3000:])  # noqa: T201
        raise
    finally:
        srv.stop()
        broker.stop()


def _subscribed(url: str) -> bool:
    status = httpx.get(f"{url}/cityhub/v1/status", timeout=10).json()
    return bool(status["mqttIngest"]["subscribed"])


def _wait(check: object, why: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{why} within {timeout_s:.0f} s")
        time.sleep(0.1)
