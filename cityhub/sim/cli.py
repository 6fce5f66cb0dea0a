"""``cityhub agency``: play a 112 / 119 / disaster / welfare center, or the external platform
that receives cityhub's forwarded events (see cityhub/sim/agencies.py)."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import click
import httpx
import orjson
import uvicorn

from cityhub.sim.agencies import (
    CODES,
    STORIES,
    Agency,
    PlatformLog,
    case_number,
    platform_app,
    telecom_fix,
)


@click.group("agency")
def agency() -> None:
    """Simulate the agencies of the linked safety services."""


@agency.command("request")
@click.option("--url", default="http://127.0.0.1:1026", show_default=True, help="cityhub.")
@click.option("--service", type=click.Choice(sorted(CODES)), required=True)
@click.option("--lon", type=float, required=True, help="Longitude of the scene.")
@click.option("--lat", type=float, required=True, help="Latitude of the scene.")
@click.option(
    "--key",
    "credential",
    envvar="CITYHUB_AGENCY_KEY",
    default="",
    help="The agency account's API key or token [$CITYHUB_AGENCY_KEY].",
)
@click.option("--tenant", default="", help="NGSI-LD tenant.")
@click.option(
    "--form",
    type=click.Choice(["json", "message"]),
    default="json",
    show_default=True,
    help="Plain JSON, or the integrated-platform message form (AUTH + EVENT).",
)
@click.option("--place", default="", help="Place of the scene, as text.")
@click.option(
    "--telecom",
    type=float,
    default=0.0,
    help="Vulnerable people: place the phone by a telecom fix of this accuracy (m).",
)
@click.option("--seed", type=int, default=None, help="Seed for made-up details.")
def request(
    url: str,
    service: str,
    lon: float,
    lat: float,
    credential: str,
    tenant: str,
    form: str,
    place: str,
    telecom: float,
    seed: int | None,
) -> None:
    """File one linked-service request and print cityhub's answer (JSON)."""
    rng = random.Random(seed)
    if telecom > 0:
        lon, lat = telecom_fix(lon, lat, telecom, rng)
    name = rng.choice(STORIES[service])
    sim = Agency(url, service, credential, tenant)

    async def run() -> Any:
        async with httpx.AsyncClient() as client:
            if form == "message":
                return await sim.message(client, lon, lat, case_number(), name, place)
            r = await sim.request(
                client, lon, lat, place=place, description=name, reference=case_number()
            )
            return r.json()

    try:
        answer = asyncio.run(run())
    except (httpx.HTTPError, RuntimeError, ValueError) as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())


@agency.command("platform")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8089, show_default=True)
@click.option("--api-key", default="", help="The apiKey it accepts (default: any).")
@click.option(
    "--mode",
    type=click.Choice(["accept", "refuse", "fail"]),
    default="accept",
    show_default=True,
    help="Accept events, refuse them, or answer HTTP 503.",
)
def platform(host: str, port: int, api_key: str, mode: str) -> None:
    """Run an external integrated platform that receives forwarded events (point cityhub's
    forward_url at it); each event is printed as it arrives."""
    log = PlatformLog(api_key=api_key, mode=mode)
    app = platform_app(log, echo=lambda msg: click.echo(orjson.dumps(msg).decode()))
    uvicorn.run(app, host=host, port=port, log_level="warning")
