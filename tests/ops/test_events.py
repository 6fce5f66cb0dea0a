"""Situation events through the public API, on both backends: raising, de-duplication, the
lifecycle with who/when/why in the history, filters, auto-end and escalation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
EV = "/cityhub/v1/events"
FIRE = {
    "eventCode": "FIRE0001",
    "eventName": "화재 감지",
    "severity": "high",
    "category": "fire",
    "place": "과천시 중앙동 1-3",
    "location": {"type": "Point", "coordinates": [126.9876, 37.4292]},
    "items": [{"key": "sensor", "val": "smoke-12"}],
}


async def _raise(
    client: httpx.AsyncClient, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    r = await client.post(EV, json=body)
    assert r.status_code == status, r.text
    event: dict[str, Any] = r.json()
    return event


async def _move(client: httpx.AsyncClient, event_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{EV}/{event_id}/transitions", json=body)


async def test_raise_and_dedupe(client: httpx.AsyncClient) -> None:
    first = await _raise(client, FIRE)
    assert first["status"] == "occurred" and first["statusCode"] == "10"
    assert first["occurrenceCount"] == 1 and len(first["occurrenceNumber"]) == 17
    assert first["eventName"] == "화재 감지" and first["location"]["type"] == "Point"
    again = await _raise(client, FIRE, status=200)  # the same place, still open: counted
    assert again["id"] == first["id"] and again["occurrenceCount"] == 2
    other = await _raise(client, FIRE | {"place": "과천시 별양동"})
    assert other["id"] != first["id"]
    # a CityEvent entity like any other
    r = await client.get("/ngsi-ld/v1/entities", params={"type": "CityEvent", "count": "true"})
    assert r.headers["NGSILD-Results-Count"] == "2"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"eventName": "x"}, "eventCode"),
        (FIRE | {"severity": "apocalyptic"}, "severity must be one of"),
        (FIRE | {"location": {"type": "Point", "coordinates": [500, 1]}}, "out of range"),
        (FIRE | {"items": ["smoke"]}, "items must be a list"),
    ],
)
async def test_bad_events_are_refused(client: httpx.AsyncClient, body: Any, says: str) -> None:
    r = await client.post(EV, json=body)
    assert says in assert_problem(r, "BadRequestData", 400)["detail"]
    assert (await client.get(EV)).json() == []


async def test_lifecycle_with_who_when_why(client: httpx.AsyncClient) -> None:
    event = await _raise(client, FIRE)
    eid = event["id"]
    r = await _move(client, eid, to="acknowledged", reason="on the board")
    assert r.status_code == 200 and r.json()["statusCode"] == "40"
    assert "acknowledgedAt" in r.json()
    assert_problem(await _move(client, eid, to="assigned"), "BadRequestData", 400)
    r = await _move(client, eid, to="assigned", assignee="kim", reason="duty officer")
    assert r.json()["handledBy"] == {"userId": "kim", "assignedBy": "system"}
    assert (await _move(client, eid, to="inProgress")).status_code == 200
    assert_problem(await _move(client, eid, to="acknowledged"), "Conflict", 409)
    r = await _move(client, eid, to="cleared", reason="fire out")
    assert r.json()["status"] == "cleared" and r.json()["statusCode"] == "50"
    assert "endedAt" in r.json()
    problem = assert_problem(await _move(client, eid, to="inProgress"), "Conflict", 409)
    assert "cleared: it cannot change any more" in problem["detail"]
    assert_problem(await _move(client, eid, to="burning"), "BadRequestData", 400)
    # the history tells who moved it, when and why
    r = await client.get(
        f"/ngsi-ld/v1/temporal/entities/{eid}",
        params={"attrs": "status", "timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
    )
    steps = [(i["value"], i.get("reason", {}).get("value")) for i in r.json()["status"]]
    assert steps == [
        ("occurred", "raised"),
        ("acknowledged", "on the board"),
        ("assigned", "duty officer"),
        ("inProgress", None),
        ("cleared", "fire out"),
    ]
    assert all(i["changedBy"]["value"] == "system" for i in r.json()["status"])
    # once closed, the same trigger opens a new event
    assert (await _raise(client, FIRE))["id"] != eid


async def test_lists(client: httpx.AsyncClient) -> None:
    fire = await _raise(client, FIRE)
    dust = await _raise(
        client,
        {
            "eventCode": "ENV0025",
            "eventName": "미세먼지 주의보",
            "severity": "medium",
            "place": "과천",
        },
    )
    await _move(client, dust["id"], to="cancelled", reason="sensor fault")
    ids = lambda r: [e["id"] for e in r.json()]  # noqa: E731
    assert ids(await client.get(EV, params={"state": "open"})) == [fire["id"]]
    assert ids(await client.get(EV, params={"state": "closed"})) == [dust["id"]]
    assert ids(await client.get(EV, params={"severity": "high"})) == [fire["id"]]
    assert ids(await client.get(EV, params={"eventCode": "ENV0025"})) == [dust["id"]]
    assert len(ids(await client.get(EV))) == 2
    assert_problem(await client.get(EV, params={"status": "burning"}), "BadRequestData", 400)
    assert_problem(await client.get(f"{EV}/urn:ngsi-ld:CityEvent:nope"), "ResourceNotFound", 404)


async def test_auto_end_and_escalation(client: httpx.AsyncClient) -> None:
    quiet = await _raise(client, FIRE)
    hub = client._transport.app.state.hub  # type: ignore[attr-defined]
    events = hub.extras["events"]
    ended, escalated = await events.sweep("", timedelta(hours=1), timedelta(0))
    assert ended == [] and escalated == [quiet["id"]]
    event = (await client.get(f"{EV}/{quiet['id']}")).json()
    assert event["escalated"] is True and event["severity"] == "critical"  # high → critical
    assert (await events.sweep("", timedelta(hours=1), timedelta(0)))[1] == []  # once only
    ended, _ = await events.sweep("", timedelta(0), timedelta(hours=1))
    assert ended == [quiet["id"]]
    event = (await client.get(f"{EV}/{quiet['id']}")).json()
    assert event["status"] == "completed" and event["statusCode"] == "91"


async def test_transitions_are_audited(client: httpx.AsyncClient) -> None:
    event = await _raise(client, FIRE)
    await _move(client, event["id"], to="acknowledged", reason="seen")
    entries = (await client.get("/cityhub/v1/audit", params={"action": "event.transition"})).json()
    assert [(e["target"], e["detail"]["to"]) for e in entries["entries"]] == [
        (event["id"], "acknowledged")
    ]


async def test_rule_events_are_not_auto_ended(client: httpx.AsyncClient) -> None:
    """An event a rule raised ends when the rule clears it, not after a quiet time."""
    ruled = await _raise(client, FIRE | {"source": "rule:pm25-alert", "dedupeKey": "rule:x:1"})
    events = client._transport.app.state.hub.extras["events"]  # type: ignore[attr-defined]
    ended, _ = await events.sweep("", timedelta(0), timedelta(hours=1))
    assert ended == []
    assert (await client.get(f"{EV}/{ruled['id']}")).json()["status"] == "occurred"
