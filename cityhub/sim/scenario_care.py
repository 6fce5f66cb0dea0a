"""``cityhub scenario missing-child`` and ``elderly-no-activity``: the care service's two
emergencies, driven as the police, the telecom operator and a home's motion sensor would.

**missing-child** — the 112 center reports a missing 8-year-old (``POST
/cityhub/v1/care/missing``, for the ``police112`` account) at the place the telecom operator's
fix puts the phone; the hub opens a vulnerable-people event, shares the cameras around it with
the police and starts the ``vulnerable`` SOP. A second fix moves the search (new cameras
shared); the child is found: the event completes and every share is revoked.

**elderly-no-activity** — the care service decides "no activity" from the readings'
``observedAt`` (cityhub/services/care/readings.py, clock.py): a household is due when its last
activity is older than its ``inactivityHours``. The scenario sends what a motion sensor's
gateway sends after a quiet spell: its log, whose last motion was ``inactivityHours`` + 1 hours
ago, then a heartbeat now (``motionDetected`` false: the sensor lives, nobody moves). The
service files a 119 request for the household (event, cameras, route, the ``119-dispatch``
SOP); 119 reports its unit on the scene, and the responders' movement ends the alert while the
event stays with the operators.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cityhub.sim.agencies import Agency, case_number, telecom_fix
from cityhub.sim.scenario_base import (
    DemoCity,
    Flow,
    HubApi,
    ScenarioError,
    follow_sop,
    inbox_message,
    now_iso,
    offset,
    point,
    prop,
    status_of,
    value,
)

MISSING = "/cityhub/v1/care/missing"
HOUSEHOLDS = "/cityhub/v1/care/households"


def _where(fix: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(fix[0], 7), round(fix[1], 7)]}


async def missing_child(hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random) -> None:
    """The missing-child scenario."""
    crossing = city.of("CrosswalkObserved")[0]
    await city.check(hub, [crossing["id"]])
    lon, lat = point(crossing)
    fix = telecom_fix(lon, lat, 150.0, rng)
    place = f"{value(crossing, 'name')} 부근"
    flow.say(
        f"112: 8세 남아 실종 신고; the telecom operator places the phone within 150 m of {place}"
    )
    case = await hub.post(
        MISSING,
        {
            "kind": "child",
            "description": "8세 남아, 키 125cm, 노란 우비, 파란 가방",
            "location": _where(fix),
            "accuracy": 150,
            "place": place,
            "reference": case_number(),
            "agency": "police112",
        },
    )
    grants = case.get("grants") or []
    flow.saw(f"missing-child case {case['id']} ({case['status']}): event {case['eventId']}")
    if not grants:
        raise ScenarioError(f"no camera was shared with the police for case {case['id']}")
    flow.saw(
        f"{len(grants)} cameras shared with {case['agency']} "
        f"(nearest {case['cameras'][0]['distance']:.0f} m from the fix)"
    )
    event_id = case["eventId"]
    await follow_sop(flow, hub, event_id, "vulnerable")
    await inbox_message(flow, hub, "police112", event_id)
    second = telecom_fix(*offset(lon, lat, 450.0, 250.0), 80.0, rng)
    flow.say("the telecom operator's next fix: 500 m north-east, within 80 m")
    moved = await hub.post(
        f"{MISSING}/{case['id']}/locations", {"location": _where(second), "accuracy": 80}
    )
    flow.saw(f"search moved: {len(moved.get('newGrants') or [])} more cameras shared")

    async def followed() -> dict[str, Any] | None:
        event = await hub.event(event_id)
        coords = (event.get("location") or {}).get("coordinates") or [0, 0]
        return event if abs(coords[0] - second[0]) < 1e-6 else None

    await flow.until(f"event {event_id} at the new location", followed)
    flow.saw(f"event {event_id} now at the new location")
    flow.say("a patrol finds the child")
    found = await hub.post(
        f"{MISSING}/{case['id']}/found", {"note": "순찰차가 놀이터에서 발견, 보호자 인계"}
    )
    await status_of(flow, hub, event_id, ("completed",), f"event {event_id} completed")
    flow.saw(
        f"case {found['status']}: event completed, {len(found.get('revoked') or [])} camera "
        "shares revoked"
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


async def _quiet_household(
    hub: HubApi, city: DemoCity, quiet_for: timedelta
) -> tuple[dict[str, Any], datetime | None]:
    """A demo household to go quiet, and its last activity: the first with none for
    ``quiet_for`` (or none at all), else the one quiet the longest."""
    known = {h["id"]: h for h in await hub.get(HOUSEHOLDS)}
    now = datetime.now(UTC)
    quietest: tuple[dict[str, Any], datetime] | None = None
    for home in city.of("CareHousehold"):
        info = known.get(home["id"])
        if info is None or not info.get("monitored"):
            continue
        last = _when(info.get("lastActivityAt"))
        if last is None or last <= now - quiet_for:
            return home, last
        if quietest is None or last < quietest[1]:
            quietest = (home, last)
    if quietest is None:
        raise ScenarioError("the care service watches none of the demo city's households")
    return quietest


async def elderly_no_activity(
    hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random, client: httpx.AsyncClient
) -> None:
    """The elderly-no-activity scenario."""
    await city.check(hub, [city.of("CareHousehold")[0]["id"]])
    hours = 12.0
    home, last = await _quiet_household(hub, city, timedelta(hours=hours + 1))
    hours = float(value(home, "inactivityHours") or hours)
    sensor = next(d for d in city.of("Device") if value(d, "controlledAsset") == home["id"])
    await city.check(hub, [home["id"], sensor["id"]])
    code = value(home, "householdCode")
    now = datetime.now(UTC)
    watch = hours
    if last is None or last <= now - timedelta(hours=hours + 1):
        last = now - timedelta(hours=hours + 1)
        flow.say(
            f"household {code}: the motion sensor {sensor['id']} sends its log — last motion "
            f"at {now_iso(last)} ({hours + 1:g} h ago), then a heartbeat with no motion"
        )
        await hub.update(sensor["id"], {"motionDetected": prop(True, now_iso(last))})
    else:
        # every household moved lately (the demo's sensors are live): the care worker
        # watches the quietest one closer, as after a hospital stay
        watch = float(int((now - last).total_seconds() // 3600))
        if watch < 1:
            raise ScenarioError(
                "every demo household's sensor saw motion within the last hour: none has "
                "been quiet long enough for an inactivity alert; try again later"
            )
        flow.say(
            f"household {code} has been quiet since {now_iso(last)}: the care worker sets "
            f"inactivityHours {watch:g} (was {hours:g}); the sensor sends a heartbeat"
        )
        await hub.update(home["id"], {"inactivityHours": prop(watch)})
    await hub.update(sensor["id"], {"motionDetected": prop(False, now_iso())})
    since = last

    async def alerted() -> dict[str, Any] | None:
        info = await hub.get(f"{HOUSEHOLDS}/{home['id']}")
        for a in info.get("alerts") or []:
            begun = _when(a.get("since"))
            if a["kind"] != "inactivity" or a["endedAt"] or begun is None:
                continue
            if abs((begun - since).total_seconds()) < 1:  # this episode, not an earlier one
                return dict(a)
        return None

    alert = await flow.until(f"an inactivity alert for household {code}", alerted)
    flow.saw(f"care alert {alert['id']}: no activity since {alert['since']}")
    request = await hub.get(f"/cityhub/v1/linked/requests/{alert['requestId']}")
    route = request.get("route") or {}
    flow.saw(
        f"119 request {request['id']} filed for {request['agency']}: event {request['eventId']}, "
        f"{len(request.get('grants') or [])} cameras shared"
    )
    if "station" in route:
        flow.saw(
            f"route from {route['station']['name']}: {route['lengthM']:.0f} m, "
            f"ETA {route['etaS']} s"
        )
    event = await hub.event(request["eventId"])
    flow.saw(f"event {event['eventCode']} {event['eventName']} [{event['severity']}]")
    await follow_sop(flow, hub, request["eventId"], "119-dispatch")
    await inbox_message(flow, hub, "fire119", request["eventId"])
    flow.say("the 119 unit reaches the home")
    arrived = await Agency(hub.url, "119-dispatch", hub.credential, hub.tenant).arrived(
        client, request["id"]
    )
    if arrived.status_code != 200:
        raise ScenarioError(f"the arrival was refused: HTTP {arrived.status_code}: {arrived.text}")
    flow.saw(f"arrival recorded at {arrived.json()['arrivedAt']}")
    flow.say("the responders move in the home: the sensor sees motion")
    await hub.update(sensor["id"], {"motionDetected": prop(True, now_iso())})

    async def ended() -> dict[str, Any] | None:
        alerts = await hub.get("/cityhub/v1/care/alerts", state="all", limit=1000)
        mine = next((a for a in alerts if a["id"] == alert["id"]), None)
        return mine if mine is not None and mine.get("endedAt") else None

    done = await flow.until(f"the end of alert {alert['id']}", ended)
    event = await hub.event(request["eventId"])
    if not event.get("conditionEndedAt"):
        raise ScenarioError(f"event {event['id']} has no conditionEndedAt after the alert ended")
    flow.saw(
        f"alert ended ({done['endReason']}); event stays {event['status']} for the operators "
        f"(conditionEndedAt {event['conditionEndedAt']})"
    )
    if watch != hours:
        await hub.update(home["id"], {"inactivityHours": prop(hours)})
        flow.say(f"the care worker sets household {code} back to inactivityHours {hours:g}")
