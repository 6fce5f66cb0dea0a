"""``cityhub scenario facility-tilt``: a retaining wall starts to lean after heavy rain.

The wall's structural sensor (a ``StructuralHealthObserved`` of the demo city, ``refStructure``
its ``Facility``) sends tilt readings that grow — 0.14°, then 0.62° — as NGSI-LD updates with
``observedAt``. The facility service regrades the wall from each reading
(docs/services/facility.md): the drop to the alarm grade raises ``FAC0101`` 시설물 안전등급 하락
with the ``facility-alarm`` SOP (cameras near the wall, the facility manager told), and the
event follows the grade down to E (critical). The event stays open for the operators.
"""

from __future__ import annotations

import random
from typing import Any

from cityhub.ops.events import OPEN
from cityhub.sim.scenario_base import (
    DemoCity,
    Flow,
    HubApi,
    ScenarioError,
    event_ids,
    follow_sop,
    inbox_message,
    items,
    new_event,
    now_iso,
    prop,
    value,
)

EVENT = "FAC0101"
#: the readings sent, degrees: inside the C band (0.1-0.2°), then beyond E (0.5°)
TILTS = (0.14, 0.62)


async def _pick(hub: HubApi, city: DemoCity) -> dict[str, Any]:
    """The first demo retaining wall graded A or B (or not yet) with no open grade event."""
    graded = {f["id"]: f for f in (await hub.get("/cityhub/v1/facilities"))["facilities"]}
    alarmed = {items(e).get("facility") for e in await hub.events(EVENT) if e.get("status") in OPEN}
    for facility in city.of("Facility"):
        if value(facility, "structureType") != "retainingWall" or facility["id"] in alarmed:
            continue
        if (graded.get(facility["id"]) or {}).get("safetyGrade") in (None, "A", "B"):
            return facility
    raise ScenarioError("every demo retaining wall is already in alarm: none is left to lean")


async def run(hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random) -> None:
    """The facility-tilt scenario."""
    await city.check(hub, [city.of("Facility")[0]["id"]])
    wall = await _pick(hub, city)
    sensor = next(
        s for s in city.of("StructuralHealthObserved") if value(s, "refStructure") == wall["id"]
    )
    await city.check(hub, [wall["id"], sensor["id"]])
    name = value(wall, "name")
    before = await event_ids(hub, EVENT)
    first, second = TILTS
    tilt = {"now": first}

    async def report() -> None:  # a sensor in alarm reports again
        await hub.update(sensor["id"], {"tilt": prop(tilt["now"], now_iso(), "DD")})

    flow.say(f"heavy rain: {name} ({wall['id']}) leans; sensor {sensor['id']} reads {first}°")
    await report()
    event = await new_event(
        flow,
        hub,
        EVENT,
        before,
        f"a {EVENT} event for {wall['id']}",
        lambda e: items(e).get("facility") == wall["id"],
        report,
    )
    grades = items(event)
    flow.saw(
        f"grade {grades.get('previousGrade') or '-'} → {grades.get('grade')}: "
        f"{event['eventName']} [{event['severity']}]"
    )
    await follow_sop(flow, hub, event["id"], "facility-alarm")
    await inbox_message(flow, hub, "facility-manager", event["id"])
    flow.say(f"the wall keeps leaning: {second}°")
    tilt["now"] = second
    await report()

    async def worse() -> dict[str, Any] | None:
        for found in await hub.events(EVENT):
            if (
                items(found).get("facility") == wall["id"]
                and found.get("status") in OPEN
                and found.get("eventGrade") == "E"
            ):
                return found
        return None

    event = await flow.until(f"the {EVENT} event of {wall['id']} at grade E", worse, nudge=report)
    flow.saw(f"event follows the grade: E [{event['severity']}] — {event.get('description')}")
    if event["severity"] != "critical":
        raise ScenarioError(f"grade E should make the event critical, not {event['severity']}")
