"""Scripted incidents for the demo city: ``cityhub scenario <name>``.

Each scenario plays the outside world against a hub that holds the demo city (`cityhub
demo`): sensors through NGSI-LD updates, agencies through the linked-service API, bus cameras
through the enforcement service. Then it follows what the platform does — events and their
grades, SOPs, camera shares, the 119 route, alert levels, violations and notices — and prints
each step as it happens, with the seconds since the start. It succeeds when the whole flow
happened within the time allowed, and fails naming the step that did not.

=====================  =======================================================================
``fire``               a car by a hydrant, a 119 request: cameras, route with the hydrant and
                       the car, SOP, tow, the engine's arrival (scenario_fire.py)
``missing-child``      112 report at a telecom fix: cameras shared with the police, SOP, a
                       second fix, found (scenario_care.py)
``fine-dust``          a district's PM10 through 주의보, 경보 and 해제 (scenario_air.py)
``flood``              the river past its alert level while the riverside lot is in use
                       (scenario_flood.py)
``elderly-no-activity``  a household's sensor log with no motion for 13 h: a 119 request,
                       arrival, activity again (scenario_care.py)
``facility-tilt``      a retaining wall leaning: grade drop, event, SOP (scenario_facility.py)
``hydrant-parking``    two bus passes by a hydrant: violation, pre-notice, fire station told
                       (scenario_parking.py)
=====================  =======================================================================

Places are picked from the demo city the seed generates (cityhub/sim/city.py), and checked in
the hub first, so a scenario needs no listing and says so clearly when the hub holds no demo
city or another seed's. Made-up details (plates, phone numbers, telecom fixes) come from the
seed too.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import click
import httpx

from cityhub.sim import (
    scenario_air,
    scenario_care,
    scenario_facility,
    scenario_fire,
    scenario_flood,
    scenario_parking,
)
from cityhub.sim.scenario_base import DemoCity, Flow, HubApi, ScenarioError


@dataclass(frozen=True, slots=True)
class Run:
    """What a scenario works with."""

    hub: HubApi
    flow: Flow
    city: DemoCity
    rng: random.Random
    client: httpx.AsyncClient


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scripted incident."""

    name: str
    title: str
    play: Callable[[Run], Awaitable[None]]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "fire",
            "건물 화재: 119 request, cameras, route with hydrants and an illegally parked car",
            lambda r: scenario_fire.run(r.hub, r.flow, r.city, r.rng, r.client),
        ),
        Scenario(
            "missing-child",
            "실종 아동: telecom location, cameras shared with 112, found",
            lambda r: scenario_care.missing_child(r.hub, r.flow, r.city, r.rng),
        ),
        Scenario(
            "fine-dust",
            "미세먼지: a district's PM10 주의보, then 경보, then 해제",
            lambda r: scenario_air.run(r.hub, r.flow, r.city, r.rng),
        ),
        Scenario(
            "flood",
            "하천 범람: river level past its alert level, the riverside lot evacuated",
            lambda r: scenario_flood.run(r.hub, r.flow, r.city, r.rng),
        ),
        Scenario(
            "elderly-no-activity",
            "독거노인 활동 미감지: no motion for 13 h, a 119 request, the unit arrives",
            lambda r: scenario_care.elderly_no_activity(r.hub, r.flow, r.city, r.rng, r.client),
        ),
        Scenario(
            "facility-tilt",
            "시설물 기울기: a retaining wall leans, its safety grade drops to E",
            lambda r: scenario_facility.run(r.hub, r.flow, r.city, r.rng),
        ),
        Scenario(
            "hydrant-parking",
            "소화전 불법 주정차: two bus passes, violation, pre-notice, fire station told",
            lambda r: scenario_parking.run(r.hub, r.flow, r.city, r.rng),
        ),
    )
}


async def play(
    name: str,
    *,
    url: str,
    credential: str = "",
    tenant: str = "",
    seed: int = 2026,
    timeout_s: float = 120.0,
    echo: Callable[[str], None],
) -> Flow:
    """Run one scenario against the hub at ``url``; its flow (ScenarioError when a step of it
    did not happen, or the hub could not be used)."""
    scenario = SCENARIOS[name]
    flow = Flow(echo, timeout_s)
    async with httpx.AsyncClient() as client:
        hub = HubApi(client, url, credential, tenant)
        await scenario.play(Run(hub, flow, DemoCity(seed), random.Random(f"{seed}:{name}"), client))
    return flow


def _listing() -> str:
    width = max(len(n) for n in SCENARIOS)
    return "\n".join(f"{s.name:<{width}}  {s.title}" for s in SCENARIOS.values())


@click.command("scenario")
@click.argument("name", metavar="NAME", required=False, type=click.Choice(list(SCENARIOS)))
@click.option(
    "--url",
    envvar="CITYHUB_URL",
    default="http://127.0.0.1:1026",
    show_default=True,
    help="The hub running the demo city [$CITYHUB_URL].",
)
@click.option(
    "--key",
    "--token",
    "credential",
    envvar="CITYHUB_TOKEN",
    default="",
    help="API key or login token of an account with the admin role [$CITYHUB_TOKEN].",
)
@click.option("--tenant", default="", help="NGSI-LD tenant holding the demo city [default].")
@click.option(
    "--seed",
    type=int,
    default=2026,
    show_default=True,
    help="Seed the demo city was made with (`cityhub demo --seed`).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1, max=3600),
    default=120.0,
    show_default=True,
    help="Seconds the whole flow may take.",
)
@click.option("--list", "listing", is_flag=True, help="List the scenarios and exit.")
def scenario(
    name: str | None,
    url: str,
    credential: str,
    tenant: str,
    seed: int,
    timeout: float,
    listing: bool,
) -> None:
    """Inject a scripted incident into a hub holding the demo city and follow it through the
    platform: events, SOPs, camera shares, 119 routes, alerts, violations. Each step is
    printed as it happens; the exit code is 0 when the whole flow completed, 1 (with the step
    that did not happen) otherwise.

    NAME is one of: fire, missing-child, fine-dust, flood, elderly-no-activity,
    facility-tilt, hydrant-parking (--list describes them)."""
    if listing:
        click.echo(_listing())
        return
    if name is None:
        raise click.UsageError("name a scenario (cityhub scenario --list shows them)")
    if seed == 0:
        raise click.BadParameter("the demo city's seed is never 0", param_hint="--seed")
    click.echo(f"cityhub scenario {name} (demo city seed {seed}) at {url}")
    click.echo(f"  {SCENARIOS[name].title}")
    try:
        flow = asyncio.run(
            play(
                name,
                url=url,
                credential=credential,
                tenant=tenant,
                seed=seed,
                timeout_s=timeout,
                echo=click.echo,
            )
        )
    except ScenarioError as err:
        click.echo(f"cityhub scenario {name}: failed: {err}", err=True)
        sys.exit(1)
    click.echo(f"{name}: the whole flow completed ({flow.steps} steps in {flow.elapsed():.1f} s)")
