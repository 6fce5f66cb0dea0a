"""Notification delivery refuses internal addresses: at connect time, and as a dead letter."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from cityhub.guard.outbound import GuardedResolver, OutboundGuard, OutboundRefused
from cityhub.settings import Settings
from cityhub.storage.base import Storage
from cityhub.subscriptions.mqtt import MqttPublisher, parse_endpoint
from cityhub.subscriptions.outbox import outbox_store
from tests.guard.conftest import fake_dns
from tests.http_receiver import Receiver
from tests.outbox_support import enqueue, notification, outbox_rows, running

pytestmark = pytest.mark.anyio


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local HTTP receiver on 127.0.0.1 answering 200."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def _port(receiver: Receiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1])


async def _post(guard: OutboundGuard, url: str) -> int:
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(guard))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(url, data=b"{}") as resp,
    ):
        return resp.status


async def test_resolver_refuses_a_name_rebound_to_an_internal_address(receiver: Receiver) -> None:
    # public when the subscription was checked, loopback when cityhub connects
    dns = fake_dns({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    guard = OutboundGuard(Settings(auth="on"), dns)
    url = f"http://rebind.example:{_port(receiver)}/notify"
    await guard.check_url(url)  # the check at creation passes
    with pytest.raises(OutboundRefused, match="rebind.example resolves to 127.0.0.1"):
        await _post(guard, url)
    assert receiver.requests == []  # never connected


async def test_resolver_hands_aiohttp_the_vetted_address(receiver: Receiver) -> None:
    dns = fake_dns({"hooks.example": ["127.0.0.1"]})
    allowed = OutboundGuard(Settings(auth="on", outbound_allow="hooks.example"), dns)
    assert await _post(allowed, f"http://hooks.example:{_port(receiver)}/n") == 200
    [got] = receiver.requests
    assert got.headers["host"] == f"hooks.example:{_port(receiver)}"


async def test_refused_http_delivery_is_a_dead_letter_at_once(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    literal, named = "urn:ngsi-ld:Subscription:lit", "urn:ngsi-ld:Subscription:name"
    port = _port(receiver)
    await enqueue(storage, {"uri": f"http://127.0.0.1:{port}/n"}, [notification(literal)])
    await enqueue(storage, {"uri": f"http://intra.example:{port}/n"}, [notification(named)])
    dns = fake_dns({"intra.example": ["127.0.0.1"]})
    async with running(storage, settings, auth="on", resolve=dns, notify_max_attempts=12):
        for _ in range(200):
            rows = await outbox_rows(storage)
            if all(r["dead"] for r in rows):
                break
            await asyncio.sleep(0.05)
    by_sub = {r["sub_id"]: r for r in rows}
    assert [by_sub[s]["attempts"] for s in (literal, named)] == [1, 1]  # no retries
    assert by_sub[literal]["last_error"].startswith("refused: 127.0.0.1 is a loopback address")
    assert "intra.example resolves to 127.0.0.1" in by_sub[named]["last_error"]
    assert "outbound_allow" in by_sub[named]["last_error"]
    letters = await outbox_store(storage).dead_letters("", None, 10, 0)
    assert {d.sub_id for d in letters} == {literal, named}
    assert receiver.requests == []


async def test_allowed_internal_endpoint_is_delivered(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    sub = "urn:ngsi-ld:Subscription:allowed"
    await enqueue(storage, {"uri": receiver.url + "/n"}, [notification(sub)])
    async with running(storage, settings, auth="on", outbound_allow="127.0.0.0/8"):
        await receiver.wait_for(1)
        await asyncio.sleep(0.1)
    assert await outbox_rows(storage) == []


async def test_mqtt_broker_on_an_internal_address_is_refused_before_connecting() -> None:
    guard = OutboundGuard(Settings(auth="on"), fake_dns({"broker.example": ["10.0.0.7"]}))
    publisher = MqttPublisher(1.0, guard=guard)
    try:
        for uri, why in [
            ("mqtt://127.0.0.1:1883/t", "127.0.0.1 is a loopback address"),
            ("mqtts://broker.example/t", "broker.example resolves to 10.0.0.7"),
        ]:
            broker, topic, qos = parse_endpoint(uri, None)
            with pytest.raises(OutboundRefused, match=why):
                await publisher.publish(broker, topic, b"{}", qos)
    finally:
        await publisher.close()


async def test_refused_mqtt_delivery_is_a_dead_letter(storage: Storage, settings: Settings) -> None:
    sub = "urn:ngsi-ld:Subscription:mqtt-internal"
    await enqueue(storage, {"uri": "mqtt://192.168.7.7:1883/lots"}, [notification(sub)])
    on = dataclasses.replace(settings, auth="off")  # loopback would pass; private never does
    async with running(storage, on):
        for _ in range(200):
            rows = await outbox_rows(storage)
            if rows[0]["dead"]:
                break
            await asyncio.sleep(0.05)
    assert rows[0]["attempts"] == 1
    assert rows[0]["last_error"].startswith("refused: 192.168.7.7 is a private address")
