"""``cityhub scenario hydrant-parking``: a car stops in a hydrant zone and two city buses pass.

The enforcement cameras on Gwacheon's buses report plate sightings through the enforcement
service's public path (``POST /cityhub/v1/parking/enforcement/sightings``): the leading bus
six minutes ago (its upload arrives now), the following bus now. The hub judges them — in a
two-sighting zone the first opens a case and sends the opted-in driver the SMS pre-notice and
the second, past the grace period, confirms the violation; in an immediate zone (the demo's
hydrant zones) the first is the violation and the pre-notice goes out only when the city set
``parking_notice_immediate`` — and the scenario follows: the ``ParkingViolation`` with its
fine, the ``TRF0105`` event and its ``parking-hydrant`` SOP telling the fire station, and, when
a third bus sees the car elsewhere, the violation cleared.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.sim.scenario_base import (
    DemoCity,
    Flow,
    HubApi,
    ScenarioError,
    event_ids,
    follow_sop,
    inbox_message,
    new_event,
    now_iso,
    offset,
    point,
    value,
)

SIGHTINGS = "/cityhub/v1/parking/enforcement/sightings"
_HANGUL = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"
_BUSES = ("과천02", "과천05", "6", "11-3", "502")
#: event of a violation at a hydrant or fire facility (enforcement_defaults.py)
FIRE_EVENT = "TRF0105"


def plate(rng: random.Random) -> str:
    """A made-up Korean plate number (e.g. 123가4567)."""
    return f"{rng.randint(10, 399)}{rng.choice(_HANGUL)}{rng.randint(1000, 9999)}"


def bus_camera(rng: random.Random) -> str:
    """The id of a bus-mounted camera."""
    return f"bus-{rng.choice(_BUSES)}-{rng.randint(100, 999)}"


async def sight(
    hub: HubApi,
    car: str,
    at: datetime,
    where: tuple[float, float],
    camera: str,
    kind: str = "bus",
) -> dict[str, Any]:
    """Report one plate sighting as an enforcement camera does; the hub's judgement."""
    body = {
        "plate": car,
        "at": now_iso(at),
        "location": {"type": "Point", "coordinates": [where[0], where[1]]},
        "camera": {"id": camera, "kind": kind},
    }
    found: dict[str, Any] = await hub.post(SIGHTINGS, body)
    return found


async def violation_state(
    flow: Flow, hub: HubApi, violation_id: str, status: str
) -> dict[str, Any]:
    """Wait for the ParkingViolation entity to have ``status``."""

    async def probe() -> dict[str, Any] | None:
        found = await hub.entity(violation_id)
        return found if found is not None and found.get("status") == status else None

    return await flow.until(f"ParkingViolation {violation_id} {status}", probe)


async def car_leaves(
    flow: Flow, hub: HubApi, car: str, where: tuple[float, float], violation_id: str, camera: str
) -> None:
    """A later camera sees the car away from its spot: the violation is cleared."""
    answer = await sight(hub, car, datetime.now(UTC), where, camera)
    ended = [c for c in answer.get("ended") or [] if c.get("reason") == "left"]
    if not ended:
        raise ScenarioError(f"seeing {car} elsewhere ended no violation case: {answer}")
    await violation_state(flow, hub, violation_id, "cleared")
    flow.saw(f"{car} seen elsewhere by {camera}: violation {violation_id} cleared (car left)")


async def run(hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random) -> None:
    """The hydrant-parking scenario."""
    zone = next(z for z in city.of("EnforcementZone") if value(z, "category") == "hydrant")
    await city.check(hub, [zone["id"]])
    car = plate(rng)
    phone = f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}"
    spot = offset(*point(zone), 1.0, 1.0)
    name = value(zone, "name")
    flow.say(f"{car} stops in {name} ({zone['id']}), a hydrant zone, at {spot[0]}, {spot[1]}")
    registered = await hub.post(
        "/cityhub/v1/parking/enforcement/phones", {"plate": car, "phone": phone, "consent": True}
    )
    flow.saw(f"the driver's phone {registered.get('phone')} is opted in to pre-notices")
    before = await event_ids(hub, FIRE_EVENT)
    now = datetime.now(UTC)
    lead, follow = bus_camera(rng), bus_camera(rng)
    flow.say(f"leading bus {lead} passed at {now_iso(now - timedelta(minutes=6))}")
    first = await sight(hub, car, now - timedelta(minutes=6), spot, lead)
    zone_seen = first.get("zone") or {}
    flow.saw(
        f"pass 1 judged: {first.get('outcome')} in {zone_seen.get('name')} "
        f"({zone_seen.get('category')}, {zone_seen.get('type')} zone)"
    )
    notice = first.get("notice") or {}
    _check_notice(flow, zone_seen, notice)
    flow.say(f"following bus {follow} passes now, 6 minutes later")
    second = await sight(hub, car, now, spot, follow)
    flow.saw(f"pass 2 judged: {second.get('outcome')}")
    violation_id = first.get("violationId") or second.get("violationId")
    if "violation" not in (first.get("outcome"), second.get("outcome")) or not violation_id:
        raise ScenarioError(
            f"two bus passes made no violation: outcomes {first.get('outcome')}, "
            f"{second.get('outcome')}"
        )
    found = await violation_state(flow, hub, violation_id, "confirmed")
    fine = found.get("fineAmount")
    flow.saw(
        f"ParkingViolation {violation_id}: confirmed, {found.get('maskedPlate')}, fine ₩{fine:,}"
    )
    event = await new_event(
        flow,
        hub,
        FIRE_EVENT,
        before,
        f"the {FIRE_EVENT} event of violation {violation_id}",
        lambda e: e.get("refRelatedEntity") == violation_id,
    )
    flow.saw(f"event raised: {event['eventCode']} {event['eventName']} [{event['severity']}]")
    await follow_sop(flow, hub, event["id"], "parking-hydrant")
    await inbox_message(flow, hub, "fire119", event["id"])
    away, later = offset(*spot, 250.0, -120.0), bus_camera(rng)
    flow.say(f"the driver moves on; bus {later} sees the car 280 m away")
    await car_leaves(flow, hub, car, away, violation_id, later)


def _check_notice(flow: Flow, zone: dict[str, Any], notice: dict[str, Any]) -> None:
    status = notice.get("status")
    if status == "sent":
        flow.saw(f"SMS pre-notice sent to {notice.get('to')}: {notice.get('text')}")
    elif zone.get("type") == "immediate" and status == "off":
        flow.saw(
            "no SMS pre-notice: an immediate zone, the violation is at once "
            "(the city's parking_notice_immediate setting is off)"
        )
    else:
        raise ScenarioError(f"the pre-notice was not sent: {notice or 'no notice in the answer'}")
