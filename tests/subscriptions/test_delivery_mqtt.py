"""Notification delivery over MQTT, against a real Mosquitto broker (tests/mqttserver.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import orjson
import pytest

from cityhub.settings import Settings
from cityhub.storage.base import Storage
from cityhub.subscriptions.mqtt import MqttDeliveryError, parse_endpoint
from cityhub.subscriptions.outbox import outbox_store
from tests.mqttserver import Mosquitto, MqttUnavailable, mqtt_broker
from tests.outbox_support import enqueue, notification, outbox_rows, running

pytestmark = pytest.mark.anyio
LINK = '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'


@pytest.fixture
def broker() -> tuple[str, int]:
    """Host and port of a real MQTT broker."""
    return mqtt_broker()


@contextlib.asynccontextmanager
async def listening(
    broker: tuple[str, int], topic: str
) -> AsyncIterator[asyncio.Queue[aiomqtt.Message]]:
    """Messages published on ``topic``, as an MQTT subscriber (QoS 2) receives them."""
    queue: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()
    async with aiomqtt.Client(broker[0], broker[1]) as client:
        await client.subscribe(topic, qos=2)

        async def pump() -> None:
            async for msg in client.messages:
                queue.put_nowait(msg)

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("version", ["mqtt3.1.1", "mqtt5.0"])
async def test_mqtt_notification_is_metadata_and_body(
    storage: Storage, settings: Settings, broker: tuple[str, int], version: str
) -> None:
    topic = f"cityhub/test/{uuid.uuid4().hex}"
    sub = "urn:ngsi-ld:Subscription:mqtt"
    endpoint = {
        "uri": f"mqtt://{broker[0]}:{broker[1]}/{topic}",
        "accept": "application/json",
        "headers": {"Link": LINK},
        "receiverInfo": [{"key": "X-Site", "value": "gwacheon"}],
        "notifierInfo": [
            {"key": "MQTT-Version", "value": version},
            {"key": "MQTT-QoS", "value": "1"},
        ],
    }
    bodies = [notification(sub, n) for n in range(3)]
    await enqueue(storage, endpoint, bodies, tenant="city1")
    async with listening(broker, topic) as messages, running(storage, settings):
        got = [await asyncio.wait_for(messages.get(), 5) for _ in bodies]
        await asyncio.sleep(0.1)
    assert [m.qos for m in got] == [1, 1, 1]  # published with QoS 1
    payloads = [orjson.loads(m.payload) for m in got]  # type: ignore[arg-type]
    for payload, body in zip(payloads, bodies, strict=True):
        assert set(payload) == {"metadata", "body"}
        assert payload["metadata"] == {
            "Content-Type": "application/json",
            "Link": LINK,
            "X-Site": "gwacheon",
            "NGSILD-Tenant": "city1",
        }
        assert payload["body"].pop("notifiedAt").endswith("Z")
        assert payload["body"] == body  # and in order
    assert await outbox_rows(storage) == []
    assert (await outbox_store(storage).status("city1", sub)).times_sent == 3


async def test_connection_is_kept_and_renewed_after_a_broker_restart(
    storage: Storage, settings: Settings
) -> None:
    try:
        own = Mosquitto()
        own.start()
    except MqttUnavailable as err:
        pytest.skip(f"no mosquitto binary to restart: {err}")
    try:
        where = ("127.0.0.1", own.port)
        topic = f"cityhub/test/{uuid.uuid4().hex}"
        sub = "urn:x:restart"
        endpoint = {
            "uri": f"mqtt://127.0.0.1:{own.port}/{topic}",
            "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
        }
        async with running(storage, settings, notify_timeout=3.0, backoff_base_s=0.1):
            async with listening(where, topic) as messages:
                await enqueue(storage, endpoint, [notification(sub, 1), notification(sub, 2)])
                for _ in range(2):
                    await asyncio.wait_for(messages.get(), 5)
            own.stop(keep_dir=True)
            await asyncio.sleep(0.2)
            own.start()
            async with listening(where, topic) as messages:
                await enqueue(storage, endpoint, [notification(sub, 3)])
                again = await asyncio.wait_for(messages.get(), 10)
            await asyncio.sleep(0.1)
        assert orjson.loads(again.payload)["body"]["data"][0]["n"] == 3  # type: ignore[arg-type]
        status = await outbox_store(storage).status("", sub)
        assert (status.times_sent, status.times_failed) == (3, 0)  # renewed within the attempt
    finally:
        own.stop()


async def test_unreachable_broker_is_a_failed_attempt(storage: Storage, settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = {"uri": f"mqtt://127.0.0.1:{port}/t", "accept": "application/json"}
    await enqueue(storage, endpoint, [notification("urn:x:m")])
    async with running(storage, settings, backoff_base_s=60):
        for _ in range(100):
            rows = await outbox_rows(storage)
            if rows[0]["attempts"]:
                break
            await asyncio.sleep(0.05)
    assert rows[0]["attempts"] == 1
    assert "cannot connect to MQTT broker" in rows[0]["last_error"]
    assert (await outbox_store(storage).status("", "urn:x:m")).times_failed == 1


def test_mqtt_endpoint_parsing() -> None:
    broker, topic, qos = parse_endpoint(
        "mqtts://u%40x:p%3Aw@broker.example:8884/city/lots%2Fa",
        [{"key": "MQTT-QoS", "value": "2"}, {"key": "MQTT-Version", "value": "mqtt3.1.1"}],
    )
    assert (broker.tls, broker.host, broker.port) == (True, "broker.example", 8884)
    assert (broker.username, broker.password, broker.version) == ("u@x", "p:w", "mqtt3.1.1")
    assert (topic, qos) == ("city/lots/a", 2)
    broker, topic, qos = parse_endpoint("mqtt://h/t", None)
    assert (broker.port, broker.version, broker.username, qos) == (1883, "mqtt5.0", None, 0)
    for bad, info in [
        ("mqtt://h/", None),
        ("mqtt://h/t", [{"key": "MQTT-QoS", "value": "3"}]),
        ("mqtt://h/t", [{"key": "MQTT-Version", "value": "mqtt4"}]),
    ]:
        with pytest.raises(MqttDeliveryError):
            parse_endpoint(bad, info)
