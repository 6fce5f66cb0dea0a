"""Subscriptions: the CRUD API, validation, and what the matcher queues for each change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.settings import Settings
from tests.subscriptions.outbox_probe import queued

pytestmark = pytest.mark.anyio
S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"
DEAD_END = "http://127.0.0.1:9/notify"  # nothing listens: notifications stay queued


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield app, c


def _mqtt(key: str, value: str) -> dict[str, Any]:
    endpoint = {"uri": "mqtt://broker/lots", "notifierInfo": [{"key": key, "value": value}]}
    return sub(notification={"endpoint": endpoint})


def sub(**members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Lot"}],
        "notification": {"endpoint": {"uri": DEAD_END}},
    }
    body.update(members)
    return {k: v for k, v in body.items() if v is not None}


async def test_create_retrieve_list_patch_delete(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, c = hub
    r = await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:a", watchedAttributes=["free"]))
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"{S}/urn:ngsi-ld:Subscription:a"
    r = await c.post(S, json=sub(subscriptionName="second"))
    assert r.status_code == 201
    generated = r.headers["Location"].rsplit("/", 1)[1]
    assert generated.startswith("urn:ngsi-ld:Subscription:")

    got = (await c.get(f"{S}/urn:ngsi-ld:Subscription:a")).json()
    assert got["id"] == "urn:ngsi-ld:Subscription:a"
    assert got["type"] == "Subscription"
    assert got["status"] == "active" and got["isActive"] is True
    assert got["watchedAttributes"] == ["free"]
    assert got["notification"]["endpoint"]["uri"] == DEAD_END
    assert got["notification"]["timesSent"] == 0

    r = await c.get(S, params={"count": "true", "limit": 1})
    assert r.headers["NGSILD-Results-Count"] == "2"
    assert [s["id"] for s in r.json()] == ["urn:ngsi-ld:Subscription:a"]

    r = await c.patch(f"{S}/urn:ngsi-ld:Subscription:a", json={"isActive": False})
    assert r.status_code == 204
    got = (await c.get(f"{S}/urn:ngsi-ld:Subscription:a", params={"options": "sysAttrs"})).json()
    assert got["status"] == "paused" and got["createdAt"] <= got["modifiedAt"]
    r = await c.patch(
        f"{S}/urn:ngsi-ld:Subscription:a", json={"notification": {"format": "keyValues"}}
    )
    assert r.status_code == 204
    got = (await c.get(f"{S}/urn:ngsi-ld:Subscription:a")).json()
    assert got["notification"]["format"] == "keyValues"
    assert got["notification"]["endpoint"]["uri"] == DEAD_END  # merged, not replaced

    assert (await c.delete(f"{S}/urn:ngsi-ld:Subscription:a")).status_code == 204
    r = await c.get(f"{S}/urn:ngsi-ld:Subscription:a")
    assert r.status_code == 404 and r.json()["type"].endswith("/ResourceNotFound")
    assert (await c.delete(f"{S}/urn:ngsi-ld:Subscription:a")).status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"type": "Subscription", "entities": [{"type": "Lot"}]}, "notification"),
        (sub(type="Nope"), "Subscription"),
        (sub(entities=None, watchedAttributes=None), "entities or watchedAttributes"),
        (sub(notification={"endpoint": {"uri": "ftp://x/y"}}), "http(s)://"),
        (sub(notification={"endpoint": {"uri": "mqtt://broker"}}), "topic"),
        (sub(notificationTrigger=["whenever"]), "notificationTrigger"),
        (sub(timeInterval=10, watchedAttributes=["free"]), "timeInterval"),
        (sub(throttling=-1), "throttling"),
        (sub(q="free>>"), "q"),
        (sub(geoQ={"georel": "near;maxDistance==10", "geometry": "Point"}), "coordinates"),
        (sub(expiresAt="2001-01-01T00:00:00Z"), "past"),
        (sub(entities=[{"idPattern": "["}]), "type"),
        (sub(entities=[{"type": "Lot", "idPattern": "["}]), "idPattern"),
        (sub(surprise=1), "surprise"),
        (sub(notification={"endpoint": {"uri": DEAD_END, "accept": "text/csv"}}), "accept"),
        (_mqtt("MQTT-QoS", "5"), "MQTT-QoS"),
        ({**sub(), "watchedAttributes": None}, "cannot be null"),
        (sub(notification={"endpoint": {"uri": DEAD_END}, "attributes": None}), "cannot be null"),
        (_mqtt("MQTT-Version", "mqtt2"), "MQTT-Version"),
    ],
)
async def test_bad_subscriptions_are_refused_and_nothing_is_stored(
    hub: tuple[Starlette, httpx.AsyncClient], body: dict[str, Any], words: str
) -> None:
    _, c = hub
    r = await c.post(S, json=body)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["type"].endswith("/BadRequestData")
    assert words in problem["detail"] or words in problem.get("title", "")
    assert (await c.get(S)).json() == []


async def test_duplicate_id_is_a_conflict(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, c = hub
    body = sub(id="urn:ngsi-ld:Subscription:dup")
    assert (await c.post(S, json=body)).status_code == 201
    r = await c.post(S, json=body)
    assert r.status_code == 409 and r.json()["type"].endswith("/AlreadyExists")


async def test_patch_that_would_break_the_subscription_is_refused(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, c = hub
    await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:p", watchedAttributes=["free"]))
    r = await c.patch(f"{S}/urn:ngsi-ld:Subscription:p", json={"timeInterval": 5})
    assert r.status_code == 400
    got = (await c.get(f"{S}/urn:ngsi-ld:Subscription:p")).json()
    assert "timeInterval" not in got


async def test_watched_attribute_change_is_queued_with_the_state_it_left(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, c = hub
    await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:w", watchedAttributes=["free"]))
    lot = "urn:ngsi-ld:Lot:1"
    await c.post(E, json={"id": lot, "type": "Lot", "free": 5, "name": "North"})
    await c.patch(f"{E}/{lot}/attrs/name", json={"value": "South"})  # not watched
    await c.patch(f"{E}/{lot}/attrs/free", json={"value": 4})
    await c.patch(f"{E}/{lot}/attrs/free", json={"value": 3})
    await c.post(E, json={"id": "urn:ngsi-ld:Gate:1", "type": "Gate", "free": 1})  # other type
    notes = await queued(app)
    values = [d["free"]["value"] for n in notes for d in n["data"]]
    assert values == [5, 4, 3]  # creation, then each update in order, each as it was
    note = notes[0]
    assert note["type"] == "Notification"
    assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:w"
    assert note["id"].startswith("urn:ngsi-ld:Notification:")
    assert "notifiedAt" not in note  # stamped when sent
    assert note["_endpoint"]["uri"] == DEAD_END
    assert "json-ld#context" in note["_endpoint"]["headers"]["Link"]


async def test_q_filter_show_changes_and_attribute_selection(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, c = hub
    await c.post(
        S,
        json=sub(
            q="free<3",
            notification={
                "endpoint": {"uri": DEAD_END},
                "showChanges": True,
                "attributes": ["free"],
            },
        ),
    )
    lot = "urn:ngsi-ld:Lot:q"
    await c.post(E, json={"id": lot, "type": "Lot", "free": 5, "name": "North"})
    await c.patch(f"{E}/{lot}/attrs/free", json={"value": 2})
    notes = await queued(app)
    assert len(notes) == 1  # the creation (free 5) fails q
    (data,) = notes[0]["data"]
    assert set(data) == {"id", "type", "free"}
    assert data["free"]["value"] == 2 and data["free"]["previousValue"] == 5


async def test_triggers_deletion_and_formats(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, c = hub
    await c.post(
        S,
        json=sub(
            notificationTrigger=["entityDeleted", "attributeDeleted"],
            notification={
                "endpoint": {"uri": DEAD_END, "accept": "application/ld+json"},
                "format": "keyValues",
            },
        ),
    )
    lot = "urn:ngsi-ld:Lot:t"
    await c.post(E, json={"id": lot, "type": "Lot", "free": 5, "name": "North"})
    await c.patch(f"{E}/{lot}/attrs/free", json={"value": 2})  # an update: not a trigger here
    await c.delete(f"{E}/{lot}/attrs/name")
    await c.delete(f"{E}/{lot}")
    notes = await queued(app)
    # changes handled in one batch share a notification: count the entries, in order
    data = [entry for note in notes for entry in note["data"]]
    assert len(data) == 2
    assert data[0] == {"id": lot, "type": "Lot", "free": 2, "name": "urn:ngsi-ld:null"}
    deleted = data[1]
    assert deleted["id"] == lot and deleted["type"] == "Lot" and "deletedAt" in deleted
    assert notes[0]["@context"]  # ld+json notifications carry their @context
    assert "headers" not in notes[0]["_endpoint"]


async def test_inactive_expired_and_other_tenants_are_not_notified(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, c = hub
    await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:off", isActive=False))
    await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:t1"), headers={"NGSILD-Tenant": "t1"})
    await c.post(E, json={"id": "urn:ngsi-ld:Lot:x", "type": "Lot", "free": 1})
    assert await queued(app) == []
    assert await queued(app, "t1") == []
    await c.post(
        E,
        json={"id": "urn:ngsi-ld:Lot:x", "type": "Lot", "free": 1},
        headers={"NGSILD-Tenant": "t1"},
    )
    assert len(await queued(app, "t1")) == 1
    assert await queued(app) == []


async def test_throttling_drops_notifications_inside_the_window(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, c = hub
    await c.post(S, json=sub(throttling=60))
    lot = "urn:ngsi-ld:Lot:th"
    await c.post(E, json={"id": lot, "type": "Lot", "free": 1})
    await queued(app)
    for v in range(2, 6):
        await c.patch(f"{E}/{lot}/attrs/free", json={"value": v})
    notes = await queued(app)
    assert [d["free"]["value"] for n in notes for d in n["data"]] == [1]


async def test_subscriptions_survive_a_restart(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        body = sub(id="urn:ngsi-ld:Subscription:keep", watchedAttributes=["free"])
        assert (await c.post(S, json=body)).status_code == 201
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        await c.post(E, json={"id": "urn:ngsi-ld:Lot:r", "type": "Lot", "free": 7})
        notes = await queued(app)
        assert [n["subscriptionId"] for n in notes] == ["urn:ngsi-ld:Subscription:keep"]


async def test_selectors_by_id_pattern_and_type_pick_their_entities(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, c = hub
    await c.post(
        S,
        json=sub(
            id="urn:ngsi-ld:Subscription:id", entities=[{"id": "urn:ngsi-ld:Lot:1", "type": "Lot"}]
        ),
    )
    await c.post(
        S,
        json=sub(
            id="urn:ngsi-ld:Subscription:pattern",
            entities=[{"idPattern": "urn:ngsi-ld:Lot:2.*", "type": "Lot"}],
        ),
    )
    await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:gate", entities=[{"type": "Gate"}]))
    await c.post(
        S, json=sub(id="urn:ngsi-ld:Subscription:any", entities=None, watchedAttributes=["open"])
    )
    for ident, kind in [("Lot:1", "Lot"), ("Lot:22", "Lot"), ("Lot:3", "Lot"), ("Gate:1", "Gate")]:
        await c.post(E, json={"id": f"urn:ngsi-ld:{ident}", "type": kind, "free": 1})
    await c.post(E, json={"id": "urn:ngsi-ld:Door:1", "type": "Door", "open": True})
    got = sorted(
        (n["subscriptionId"].rsplit(":", 1)[1], d["id"].split(":", 2)[2])
        for n in await queued(app)
        for d in n["data"]
    )
    assert got == [
        ("any", "Door:1"),
        ("gate", "Gate:1"),
        ("id", "Lot:1"),
        ("pattern", "Lot:22"),
    ]


async def test_delivery_status_sent_by_a_client_is_not_taken(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, c = hub
    note = {"endpoint": {"uri": DEAD_END}, "timesSent": 99, "lastSuccess": "2020-01-01T00:00:00Z"}
    r = await c.post(S, json=sub(id="urn:ngsi-ld:Subscription:s", notification=note))
    assert r.status_code == 201, r.text
    got = (await c.get(f"{S}/urn:ngsi-ld:Subscription:s")).json()["notification"]
    assert got["timesSent"] == 0 and "lastSuccess" not in got


async def test_periodic_subscription_notifies_once_per_period_across_workers(
    settings: Settings,
) -> None:
    """Two apps on one database stand for two workers: each runs the periodic job, and
    each period's notification is still queued once."""
    import asyncio
    import contextlib

    apps = [create_app(settings) for _ in range(2)]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=apps[0])
        c = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://h")
        )
        lot = {"id": "urn:ngsi-ld:Lot:p", "type": "Lot", "free": {"type": "Property", "value": 3}}
        assert (await c.post(E, json=lot)).status_code == 201
        body = sub(id="urn:ngsi-ld:Subscription:every", timeInterval=1)
        assert (await c.post(S, json=body)).status_code == 201
        for app in apps:  # both workers know it (a worker reloads every 2 s on its own)
            await app.state.hub.extras["subscriptions"].matcher.reload()
        await asyncio.sleep(2.7)
        sent = [n for n in await queued(apps[0]) if n["subscriptionId"] == body["id"]]
    assert 1 <= len(sent) <= 3, len(sent)  # one per second; each worker alone would make 3
    assert all(n["data"][0]["free"]["value"] == 3 for n in sent)


async def test_trailing_slash_collection_url(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, c = hub
    r = await c.post(S + "/", json=sub(id="urn:ngsi-ld:Subscription:slash"))
    assert r.status_code == 201, r.text
    assert [s["id"] for s in (await c.get(S + "/")).json()] == ["urn:ngsi-ld:Subscription:slash"]


async def test_patch_null_removes_a_member_and_expired_subscriptions_can_be_patched(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    _, c = hub
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    url = f"{S}/urn:ngsi-ld:Subscription:x"
    assert (await c.post(S, json=sub(id=url.rsplit("/", 1)[1], expiresAt=soon))).status_code == 201
    await asyncio.sleep(1.2)
    assert (await c.get(url)).json()["status"] == "expired"
    r = await c.patch(url, json={"isActive": False})  # expired, yet patchable
    assert r.status_code == 204, r.text
    r = await c.patch(
        url,
        json={"expiresAt": None, "isActive": True},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 204, r.text
    got = (await c.get(url)).json()
    assert "expiresAt" not in got and got["status"] == "active"
    r = await c.patch(url, json={"notification": None})
    assert r.status_code == 400 and "notification" in r.json()["detail"]
