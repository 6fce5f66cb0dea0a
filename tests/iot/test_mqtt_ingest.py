"""Measures over MQTT through a real Mosquitto broker (tests/mqttserver.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import aiomqtt
import httpx
import pytest

from cityhub.app import create_app
from cityhub.iot.mqtt_ingest import message_of, parse_topic
from cityhub.settings import Settings
from tests.mqttserver import mqtt_broker

pytestmark = pytest.mark.anyio
CITY = {"fiware-service": "gwacheon"}
LD = {"NGSILD-Tenant": "gwacheon"}


def test_topics_follow_the_iot_agent_conventions() -> None:
    assert parse_topic("/k1/dev1/attrs") == (None, "k1", "dev1", None)
    assert parse_topic("/json/k1/dev1/attrs") == ("json", "k1", "dev1", None)
    assert parse_topic("/ul/k1/dev1/attrs/t") == ("ul", "k1", "dev1", "t")
    assert parse_topic("/k1/dev1/attrs/t") == (None, "k1", "dev1", "t")
    for bad in ("k1/dev1/attrs", "/k1/dev1/cmd", "/k1//attrs", "/a/b/c/d/e/f"):
        assert parse_topic(bad) is None, bad
    assert message_of("/k/d/attrs", b'{"t": 1}') == ("k", "d", "json", b'{"t": 1}')
    assert message_of("/k/d/attrs", b"t|1") == ("k", "d", "ul", b"t|1")
    assert message_of("/k/d/attrs/t", b"21.5") == ("k", "d", "json", b'{"t":21.5}')
    assert message_of("/ul/k/d/attrs/s", b"free") == ("k", "d", "json", b'{"s":"free"}')


async def _wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_measures_published_on_the_broker_update_entities(settings: Settings) -> None:
    host, port = mqtt_broker()
    key = f"k{uuid.uuid4().hex[:8]}"
    cfg = dataclasses.replace(
        settings, mqtt_url=f"mqtt://{host}:{port}", mqtt_client_id=f"cityhub-{key}"
    )
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
        group = {
            "apikey": key,
            "entity_type": "AirQualityObserved",
            "attributes": [{"object_id": "p", "name": "pm10", "type": "Number"}],
        }
        assert (
            await c.post("/iot/services", json={"services": [group]}, headers=CITY)
        ).status_code == 201
        await _wait_for(lambda: _connected(app))  # publishing before the subscription: lost
        station = "urn:ngsi-ld:AirQualityObserved:aq-1"

        async def pm10() -> Any:
            r = await c.get(f"/ngsi-ld/v1/entities/{station}", headers=LD)
            return r.json().get("pm10", {}).get("value") if r.status_code == 200 else None

        async with aiomqtt.Client(host, port) as pub:
            await pub.publish(f"/{key}/aq-1/attrs", b'{"p": 41}', qos=1)
            await _wait_for(lambda: _is(pm10, 41))
            await pub.publish(f"/ul/{key}/aq-1/attrs", b"p|42", qos=1)
            await _wait_for(lambda: _is(pm10, 42))
            await pub.publish(f"/{key}/aq-1/attrs/p", b"43", qos=1)
            await _wait_for(lambda: _is(pm10, 43))
            # a bad measure is acknowledged and kept as a dead letter; later ones still flow
            await pub.publish(f"/ul/{key}/aq-1/attrs", b"p|lots", qos=1)
            await pub.publish(f"/{key}/aq-1/attrs", b'{"p": 44}', qos=1)
            await _wait_for(lambda: _is(pm10, 44))

        async def one_letter() -> bool:
            body = (await c.get("/iot/dead-letters", headers=CITY)).json()
            return bool(body["count"] == 1)

        await _wait_for(one_letter)
        letter = (await c.get("/iot/dead-letters", headers=CITY)).json()["deadLetters"][0]
        assert letter["source"] == "mqtt" and letter["resource"] == f"/ul/{key}/aq-1/attrs"
        assert letter["payload"] == {"text": "p|lots"} and "p" in letter["reason"]


async def _is(read: Any, expected: Any) -> bool:
    return bool(await read() == expected)


async def test_messages_sent_while_cityhub_is_down_arrive_after_it_is_back(
    settings: Settings,
) -> None:
    host, port = mqtt_broker()
    key = f"k{uuid.uuid4().hex[:8]}"
    cfg = dataclasses.replace(
        settings, mqtt_url=f"mqtt://{host}:{port}", mqtt_client_id=f"cityhub-{key}"
    )
    group = {"apikey": key, "entity_type": "WasteContainer"}
    app = create_app(cfg)
    async with app.router.lifespan_context(app):  # the persistent session is made here
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
        assert (
            await c.post("/iot/services", json={"services": [group]}, headers=CITY)
        ).status_code == 201
        await _wait_for(lambda: _connected(app))
    async with aiomqtt.Client(host, port) as pub:  # cityhub is down: the broker keeps them
        for n in range(20):
            await pub.publish(
                f"/{key}/bin-{n % 4}/attrs", f'{{"fillingLevel": {n / 20}}}'.encode(), qos=1
            )
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")

        async def all_there() -> bool:
            r = await c.get("/ngsi-ld/v1/entities", params={"type": "WasteContainer"}, headers=LD)
            if r.status_code != 200:  # no entity of the tenant yet
                return False
            levels = sorted(e["fillingLevel"]["value"] for e in r.json())
            return levels == [0.8, 0.85, 0.9, 0.95]  # each bin's last measure, in order

        await _wait_for(all_there)


async def _connected(app: Any) -> bool:
    return bool(app.state.hub.extras["mqtt_ingest"].subscribed.is_set())
