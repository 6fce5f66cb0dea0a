"""``cityhub simulate``: send the demo city's live sensor data to a hub (see docs/simulator.md).

The city is generated from the seed (:mod:`cityhub.sim.city`), as ``cityhub demo`` seeds it,
so nothing needs to be listed from the hub; the stream is :mod:`cityhub.sim.stream`, the
sending :mod:`cityhub.sim.sender`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime, timedelta

import click
import httpx
import orjson

from cityhub.sim.broker import address, answers
from cityhub.sim.sender import HttpMeasures, MqttMeasures, SendError, Tally, Transport, run
from cityhub.sim.stream import CityStream, iso


def _start(start: str | None) -> datetime:
    if start is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(
            f"{start!r} is not an ISO 8601 time (2026-03-02T08:00:00+09:00)", param_hint="--start"
        ) from err
    if moment.tzinfo is None:
        raise click.BadParameter("give the time zone too (Z or +09:00)", param_hint="--start")
    return moment


def broker_for(mqtt: str, url: str, port: int = 1883) -> str:
    """The broker URL to publish to, or "" for HTTP: ``auto`` tries ``port`` on the hub's
    host."""
    if mqtt == "none":
        return ""
    if mqtt != "auto":
        try:
            address(mqtt)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--mqtt") from err
        return mqtt
    host = httpx.URL(url).host or "127.0.0.1"
    return f"mqtt://{host}:{port}" if answers(host, port) else ""


@click.command("simulate")
@click.option(
    "--url",
    envvar="CITYHUB_URL",
    default="http://127.0.0.1:1026",
    show_default=True,
    help="The hub (HTTP measures and bus sightings) [$CITYHUB_URL].",
)
@click.option(
    "--mqtt",
    default="auto",
    show_default=True,
    help="Broker to publish measures to: mqtt://host:port, auto (port 1883 on the hub's host "
    "when it answers, else HTTP) or none (HTTP /iot/json).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Simulated seconds per real second (60: a simulated day in 24 minutes).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=50.0,
    show_default=True,
    help="Messages a second at most (0: no limit).",
)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="Seed of the demo city (as demo)."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: at Ctrl-C).",
)
@click.option(
    "--start",
    help="Simulated time to start from, ISO 8601 with a time zone (default: now); with the "
    "seed it fixes the messages.",
)
@click.option("--tenant", default="", help="NGSI-LD tenant (fiware-service) of the demo city.")
@click.option(
    "--key",
    "--token",
    "credential",
    envvar="CITYHUB_TOKEN",
    default="",
    help="API key or login token with events:write, for the bus sightings [$CITYHUB_TOKEN].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the messages (JSON lines) of duration x speed simulated seconds; send nothing.",
)
def simulate(
    url: str,
    mqtt: str,
    speed: float,
    rate: float,
    seed: int,
    duration: float | None,
    start: str | None,
    tenant: str,
    credential: str,
    dry_run: bool,
) -> None:
    """Send the demo city's live sensor data to a hub: parking spots and lots, air quality
    with fine-dust episodes, structural sensors, care households' motion, smart crosswalks,
    the flood gauge, electrical-fire sensors on distribution panels with now and then a fault,
    and bus cameras' plate sightings, with noise and dropouts. The simulated clock runs SPEED
    times the real one; readings are stamped with the real time they are sent. The same seed
    and start give the same messages. Progress every 5 s; a summary at the end or on Ctrl-C."""
    begin = _start(start)
    if dry_run:
        _dry_run(seed, begin, timedelta(seconds=(duration or 60.0) * speed))
        return
    broker = broker_for(mqtt, url)
    limit = f"at most {rate:g} messages/s" if rate else "no rate limit"
    over = f"MQTT {broker}" if broker else f"HTTP {url}/iot/json"
    click.echo(
        f"cityhub simulate: the demo city (seed {seed}) from {iso(begin)}, x{speed:g}, "
        f"{limit}; measures over {over}",
        err=True,
    )
    tally = Tally()
    try:
        asyncio.run(
            _send(url, broker, tenant, credential, seed, begin, speed, rate, duration, tally)
        )
    except KeyboardInterrupt:
        pass
    except SendError as err:
        _summary(tally)
        click.echo(f"cityhub simulate: error: {err}", err=True)
        sys.exit(1)
    _summary(tally)


def _summary(tally: Tally) -> None:
    for line in tally.summary():
        click.echo(line, err=True)


def _dry_run(seed: int, begin: datetime, span: timedelta) -> None:
    stream = CityStream(seed, begin)
    out = sys.stdout.buffer
    for msg in stream.messages(stream.start + span):
        out.write(orjson.dumps(msg.json()) + b"\n")
    out.flush()


async def _send(
    url: str,
    broker: str,
    tenant: str,
    credential: str,
    seed: int,
    begin: datetime,
    speed: float,
    rate: float,
    duration: float | None,
    tally: Tally,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # end the run, then print the summary
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            await http.get("/version")
        except httpx.HTTPError as err:
            if not broker:
                raise SendError(f"cannot reach the hub at {url}: {err}") from err
            click.echo(f"warning: the hub at {url} does not answer: no bus sightings", err=True)
        stream = await asyncio.to_thread(CityStream, seed, begin)
        measures: Transport = MqttMeasures(broker) if broker else HttpMeasures(http, tenant)
        if isinstance(measures, MqttMeasures):
            await measures.connect()
        try:
            await run(
                stream,
                measures,
                http,
                tally=tally,
                speed=speed,
                rate=rate,
                duration=duration,
                tenant=tenant,
                credential=credential,
                stop=stop,
                report=lambda line: click.echo(line, err=True),
            )
        finally:
            if isinstance(measures, MqttMeasures):
                await measures.close()
