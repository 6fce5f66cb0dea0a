"""``cityhub scenario flood``: 양재천 rises while cars stand in the riverside lot.

The demo city's river gauge (``FloodMonitoring``, alert level 3.5 m) and its riverside lot
(``OffStreetParking`` with ``riverside`` true) drive the parking service's flood rules
(cityhub/services/parking/flood_defaults.py), as the gauge and the lot's gate system would:

1. the lot's gate counts cars in (``occupiedSpotNumber``): ``riverside-lot-occupied`` is on;
2. the gauge reports the river rising past its alert level: ``river-alert`` raises ``DIS0100``
   (the ``flood`` SOP: cameras by the river, the disaster center told) and the composite
   ``riverside-flood`` raises ``DIS0101`` 하천변 주차장 침수 대피 with the
   ``riverside-evacuation`` SOP;
3. the drivers leave: the lot empties and the evacuation event is cleared;
4. the river falls below the alert level: the river event is cleared.
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
    describe,
    event_ids,
    follow_sop,
    inbox_message,
    new_event,
    now_iso,
    prop,
    status_of,
    value,
)

RULES = ("river-alert", "riverside-lot-occupied", "riverside-flood")
RIVER, LOT, EVACUATE = "DIS0100", "PRK0110", "DIS0101"


async def _lot(hub: HubApi, lot: dict[str, Any], total: int, occupied: int) -> None:
    at = now_iso()
    await hub.update(
        lot["id"],
        {
            "occupiedSpotNumber": prop(occupied, at),
            "availableSpotNumber": prop(total - occupied, at),
        },
    )


async def run(hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random) -> None:
    """The flood scenario."""
    gauge = city.of("FloodMonitoring")[0]
    lot = next(p for p in city.of("OffStreetParking") if value(p, "riverside"))
    await city.check(hub, [gauge["id"], lot["id"]])
    for rule in RULES:
        r = await hub.call("GET", f"/cityhub/v1/rules/{rule}", ok=(200, 404))
        if r.status_code == 404:
            raise ScenarioError(
                f"the rule {rule} is not set up in the hub: POST "
                "/cityhub/v1/services/parking/setup installs the parking service's rules"
            )
    alert = float(value(gauge, "alertLevel"))
    total = int(value(lot, "totalSpotNumber"))
    lot_name, river = value(lot, "name"), value(gauge, "name")
    before = await event_ids(hub, RIVER, EVACUATE)
    cars = min(total, 12 + rng.randrange(12))
    flow.say(f"{lot_name} ({lot['id']}): the gate counts {cars} cars in")
    await _lot(hub, lot, total, cars)
    state: dict[str, float] = {"cars": cars, "level": 1.8}

    async def report() -> None:  # the gauge and the gate repeat their readings in a flood
        await _lot(hub, lot, total, int(state["cars"]))
        await hub.update(gauge["id"], {"currentLevel": prop(state["level"], now_iso(), "MTR")})

    async def lot_event() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in await hub.events(LOT)
                if e.get("refRelatedEntity") == lot["id"] and e.get("status") in OPEN
            ),
            None,
        )

    parked = await flow.until(f"the {LOT} event of {lot['id']}", lot_event, nudge=report)
    flow.saw(f"rule riverside-lot-occupied on: {describe(parked)}")
    for level in (1.8, 2.9, round(alert + 0.2, 2)):
        flow.say(f"{river}: {level} m (alert level {alert} m)")
        state["level"] = level
        await hub.update(gauge["id"], {"currentLevel": prop(level, now_iso(), "MTR")})
    high = await new_event(
        flow,
        hub,
        RIVER,
        before,
        f"the {RIVER} event of {gauge['id']}",
        lambda e: e.get("refRelatedEntity") == gauge["id"],
        report,
    )
    flow.saw(f"river at its alert level: {describe(high)}")
    await follow_sop(flow, hub, high["id"], "flood")
    await inbox_message(flow, hub, "disaster-center", high["id"])
    evacuate = await new_event(
        flow, hub, EVACUATE, before, f"the {EVACUATE} evacuation event", nudge=report
    )
    flow.saw(f"river high and the lot in use: {describe(evacuate)}")
    await follow_sop(flow, hub, evacuate["id"], "riverside-evacuation")
    await inbox_message(flow, hub, "traffic", evacuate["id"])
    for left in (cars // 3, 0):
        flow.say(f"drivers move their cars: {left} left in {lot_name}")
        state["cars"] = left
        await _lot(hub, lot, total, left)
    done = await status_of(
        flow, hub, evacuate["id"], ("cleared",), "the evacuation event cleared", report
    )
    flow.saw(f"lot empty: {done['eventCode']} cleared by the rule riverside-flood")
    await status_of(flow, hub, parked["id"], ("cleared",), f"the {LOT} event cleared", report)
    for level in (round(alert - 0.3, 2), 2.4):
        flow.say(f"{river}: {level} m")
        state["level"] = level
        await hub.update(gauge["id"], {"currentLevel": prop(level, now_iso(), "MTR")})
    await status_of(flow, hub, high["id"], ("cleared",), "the river event cleared", report)
    flow.saw(f"river below its alert level: {RIVER} cleared")
