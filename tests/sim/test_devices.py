"""The demo city's sensors provisioned in the ingest gateway: one service group per kind of
sensor, one device per sensor entity, once; a measure sent with a demo API key updates the
demo entity through the real ingest path, and a panel's dangerous reading reaches the
electrical-fire service."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime

import httpx
import pytest

from cityhub.app import create_app
from cityhub.ngsild.hub import Hub
from cityhub.settings import Settings
from cityhub.sim.city import COUNTS, generate
from cityhub.sim.demo import CAMERAS_USER, seed, simulator_key
from cityhub.sim.devices import KINDS, devices_of, provision
from cityhub.sim.sender import HttpMeasures, stamp
from cityhub.sim.simulate import broker_for
from tests.services.facility.city import city as running
from tests.sim.test_stream import fault_at_peak

pytestmark = pytest.mark.anyio
SEED = 11


async def test_provisioned_once_and_measures_update_the_demo_entities(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        hub: Hub = app.state.hub
        assert await seed(hub, SEED) > 2000
        city = generate(SEED)
        assert await provision(hub, "", city) == (0, 0)  # seed did it: nothing more to add
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub"
        ) as c:
            groups = (await c.get("/iot/services")).json()
            assert {g["apikey"] for g in groups["services"]} == {k.apikey for k in KINDS.values()}
            listed = (await c.get("/iot/devices", params={"limit": 1})).json()
            sensors = devices_of(city)
            expected = (
                COUNTS["ParkingSpot"]
                + COUNTS["OffStreetParking"]
                + COUNTS["AirQualityObserved"]
                + COUNTS["Facility"]  # one structural sensor each
                + COUNTS["CareHousehold"]  # one motion sensor each
                + COUNTS["CrosswalkObserved"]
                + COUNTS["FloodMonitoring"]
                + COUNTS["ElectricalPanel"]
            )
            assert listed["count"] == len(sensors) == expected
            spot = (await c.get("/iot/devices/demo-spot-2-5")).json()
            assert spot["entity_name"] == "urn:ngsi-ld:ParkingSpot:demo-2-5"
            stands = (await c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:demo-spot-2-5")).json()
            assert stands["controlledAsset"]["object"] == "urn:ngsi-ld:ParkingSpot:demo-2-5"
            # the motion sensor is the Device of the city: it still names its household
            motion = (await c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:demo-motion-4")).json()
            assert motion["controlledAsset"]["object"] == "urn:ngsi-ld:CareHousehold:demo-4"
            assert motion["deviceState"]["value"] == "provisioned"

            # a device sends over HTTP with its group's API key: the demo entity changes
            sent = {"TimeInstant": "2026-03-02T00:00:00Z", "s": "occupied"}
            r = await c.post(
                "/iot/json", params={"k": "demo-spot", "i": "demo-spot-2-5"}, json=sent
            )
            assert r.status_code == 200, r.text
            r = await c.post(
                "/iot/json",
                params={"k": "demo-air", "i": "demo-aq-3"},
                json={"TimeInstant": "2026-03-02T00:00:00Z", "p10": 88.5, "co": 0.4},
            )
            assert r.status_code == 200, r.text
            spot_now = (await c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:demo-2-5")).json()
            assert spot_now["status"]["value"] == "occupied"
            assert spot_now["status"]["observedAt"].startswith("2026-03-02T00:00:00")
            air = (await c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:demo-3")).json()
            assert air["pm10"]["value"] == 88.5 and air["pm10"]["unitCode"] == "GQ"
            assert air["co"]["unitCode"] == "GP"
            # explicitAttrs: a measure the group does not map is refused, not invented
            r = await c.post(
                "/iot/json", params={"k": "demo-spot", "i": "demo-spot-2-5"}, json={"zz": 1}
            )
            assert (
                "zz"
                not in (await c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:demo-2-5")).json()
            )
            # another device's key is refused
            r = await c.post("/iot/json", params={"k": "demo-air", "i": "demo-spot-2-5"}, json=sent)
            assert r.status_code == 404


async def test_a_panel_past_danger_raises_its_fire_event(settings: Settings) -> None:
    city = generate(SEED)
    msg = fault_at_peak(SEED, city, "danger")  # what the simulator sends at a fault's worst
    panel = next(d.entity_id for d in devices_of(city) if d.device_id == msg.device_id)
    async with running(settings) as c:
        await seed(c.app.state.hub, SEED)
        await c.settle()
        graded = await c.get("/cityhub/v1/electrical/panels")  # the city's readings: normal
        assert graded["byGrade"]["normal"] == COUNTS["ElectricalPanel"]
        assert await c.events(eventCode="ELC0002") == []

        body = {"TimeInstant": stamp(datetime.now(UTC)), **msg.body}  # as the sender stamps it
        assert await HttpMeasures(c.client, "").measure(msg, body) is None
        await c.settle()
        (row,) = (await c.get("/cityhub/v1/electrical/panels", grade="danger"))["panels"]
        assert row["id"] == panel and row["temperature"] == msg.body["t"]
        assert row["arcEvents"] == msg.body["a"] and "(danger)" in row["anomalyReason"]
        (event,) = await c.events(eventCode="ELC0002")
        assert (event["severity"], event["eventGrade"]) == ("high", "danger")
        assert event["sop"]["template"] == "fire"
        assert event["description"].startswith(row["name"])


async def test_a_second_start_provisions_nothing(settings: Settings) -> None:
    for _ in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            hub: Hub = app.state.hub
            city = generate(SEED)
            added = await provision(hub, "", city)
            store = hub.extras["iot"]
            devices, count = await store.devices("", None, 1, 0)
            assert count == len(devices_of(city))
        if _ == 0:
            assert added == (len(KINDS), count)
        else:
            assert added == (0, 0)


async def test_the_bus_cameras_get_a_key_for_sightings_only(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, auth="on"))
    async with app.router.lifespan_context(app):
        hub: Hub = app.state.hub
        first, second = await simulator_key(hub), await simulator_key(hub)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub"
        ) as c:
            old = {"Authorization": f"Bearer {first}"}
            new = {"Authorization": f"Bearer {second}"}
            sighting = {
                "plate": "12가3456",
                "at": "2026-03-02T08:00:00+09:00",
                "location": {"type": "Point", "coordinates": [126.99, 37.43]},
                "camera": {"id": "demo-bus-1a", "kind": "bus"},
            }
            path = "/cityhub/v1/parking/enforcement/sightings"
            assert (await c.post(path, json=sighting, headers=old)).status_code == 401
            r = await c.post(path, json=sighting, headers=new)
            assert r.status_code < 300, r.text
            # events:write only: the key reads no city data
            r = await c.get("/ngsi-ld/v1/entities", params={"type": "District"}, headers=new)
            assert r.status_code == 403
            keys = await hub.extras["auth"].tokens(CAMERAS_USER)
            assert len(keys) == 1  # the earlier key was revoked


def test_auto_picks_the_broker_on_the_hubs_host_or_http() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert broker_for("auto", "http://127.0.0.1:1026", port) == f"mqtt://127.0.0.1:{port}"
    assert broker_for("auto", "http://127.0.0.1:1026", port) == ""  # closed: HTTP
    assert broker_for("none", "http://127.0.0.1:1026") == ""
    assert broker_for("mqtt://b:1884", "http://127.0.0.1:1026") == "mqtt://b:1884"
