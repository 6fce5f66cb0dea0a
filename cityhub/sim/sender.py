"""Sending the demo city's stream (:mod:`cityhub.sim.stream`) to a hub, paced and counted.

Measures go as IoT Agent JSON: over MQTT on ``/<apikey>/<device_id>/attrs`` (QoS 1) when a
broker is given, else over HTTP to ``POST /iot/json?k=<apikey>&i=<device_id>``. Bus cameras'
plate sightings go to the enforcement service's ``POST
/cityhub/v1/parking/enforcement/sightings`` (they need a credential with ``events:write``).

**Pacing.** A message of simulated time *t* goes out at ``start + (t − sim_start) / speed`` of
the real clock: at ``--speed 60`` a simulated day passes in 24 minutes. The rate limit caps the
messages sent per second (a batch of sightings counts each sighting); when it binds, the
simulated clock falls behind, nothing is dropped: the messages stay the same, only later.

**Time stamps.** Each message is stamped with the real time it goes out (``TimeInstant`` of the
measures, ``at`` of the sightings; the counts of an interval with its start, its simulated
length divided by the speed earlier), not with the simulated time. The hub's services compare
reading times with the real clock — care's no-activity alerts, the rules' absence and duration
conditions, the enforcement's refusal of sightings from the future, "latest" on the dashboard —
so a reading stamped a simulated hour ahead (or, replaying the past, a day behind) would raise
false alarms or be refused. The price at speeds above 1: what the hub averages over real time
sees compressed days (an hour of air history holds ``speed`` simulated hours, so the 24-hour
PM averages flatten the diurnal cycle and need 12 real hours of readings; a crosswalk's hourly
counts are ``speed`` times a real one's, its violation rate is right), and a parked car stays
seconds, so in two-sighting zones the enforcement opens cases but confirms none (immediate
zones confirm on one sighting). At ``--speed 1`` the history is a real day's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx
import orjson

from cityhub.sim.patterns import SEOUL
from cityhub.sim.stream import SIGHTINGS, CityStream, Message

log = logging.getLogger(__name__)
SIGHTINGS_PATH = "/cityhub/v1/parking/enforcement/sightings"
_RECONNECT_S = 2.0


def stamp(moment: datetime) -> str:
    """A time stamp as sent: UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SendError(Exception):
    """The hub or the broker cannot be reached (or refuses everything)."""


@dataclass
class Tally:
    """What was sent, per kind, and what the hub refused; the simulated clock reached."""

    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)  # first refusal per kind
    clock: datetime | None = None
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        """One line of progress."""
        total = sum(self.sent.values())
        rate = total / max(time.monotonic() - self.started, 1e-9)
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.sent.items())) or "nothing yet"
        where = self.clock.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M KST") if self.clock else "-"
        refused = sum(self.refused.values())
        tail = f", {refused} refused" if refused else ""
        return f"simulated {where}: sent {total} ({kinds}), {rate:.1f}/s{tail}"

    def summary(self) -> list[str]:
        """The closing report: the totals and why messages were refused."""
        lines = [self.line()]
        lines += [
            f"  {kind}: refused {self.refused[kind]}: {why}" for kind, why in self.reasons.items()
        ]
        return lines


class Transport(Protocol):
    """Where measures go."""

    async def measure(self, msg: Message, body: dict[str, Any]) -> str | None:
        """Send one device message (``body``: its measures, stamped); None when taken, else
        why it was refused."""


class HttpMeasures:
    """``POST /iot/json`` (the device's API key and id in the query)."""

    def __init__(self, client: httpx.AsyncClient, tenant: str) -> None:
        self.client = client
        self.headers = {"fiware-service": tenant} if tenant else {}

    async def measure(self, msg: Message, body: dict[str, Any]) -> str | None:
        """Send one device message over HTTP."""
        r = await _post(
            self.client,
            "/iot/json",
            body,
            self.headers,
            params={"k": msg.apikey, "i": msg.device_id},
        )
        return None if r.status_code < 300 else _why(r)


class MqttMeasures:
    """Publishes on the IoT Agent topics of a broker, reconnecting when it goes away."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise SendError(f"the MQTT URL must be mqtt://host:port or mqtts://, not {url}")
        self.url = url
        self.parts = parts
        self.client: aiomqtt.Client | None = None
        self._stack = contextlib.AsyncExitStack()

    async def connect(self) -> None:
        """Connect to the broker (SendError if it does not answer)."""
        p = self.parts
        client = aiomqtt.Client(
            p.hostname or "127.0.0.1",
            p.port or (8883 if p.scheme == "mqtts" else 1883),
            username=unquote(p.username) if p.username else None,
            password=unquote(p.password) if p.password else None,
            tls_context=ssl.create_default_context() if p.scheme == "mqtts" else None,
        )
        try:
            self.client = await self._stack.enter_async_context(client)
        except aiomqtt.MqttError as err:
            raise SendError(f"cannot connect to the MQTT broker {_safe(self.url)}: {err}") from err

    async def close(self) -> None:
        """Disconnect."""
        with contextlib.suppress(aiomqtt.MqttError):
            await self._stack.aclose()
        self.client = None

    async def measure(self, msg: Message, body: dict[str, Any]) -> str | None:
        """Publish one device message (QoS 1); reconnect and publish again if the broker
        went away meanwhile."""
        topic = f"/{msg.apikey}/{msg.device_id}/attrs"
        payload = orjson.dumps(body)
        for attempt in range(3):
            try:
                if self.client is None:
                    await self.connect()
                assert self.client is not None
                await self.client.publish(topic, payload, qos=1)
                return None
            except (aiomqtt.MqttError, SendError) as err:
                log.warning("MQTT: %s; reconnecting", err)
                await self.close()
                if attempt == 2:
                    raise SendError(f"the MQTT broker {_safe(self.url)} went away: {err}") from err
                await asyncio.sleep(_RECONNECT_S)
        return None  # not reached


async def _post(
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        return await client.post(
            path,
            content=orjson.dumps(body),
            params=params,
            headers={"Content-Type": "application/json", **headers},
        )
    except httpx.HTTPError as err:
        raise SendError(f"cannot reach the hub at {client.base_url}: {err}") from err


def _why(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail") or r.text
    except ValueError:
        detail = r.text
    return f"HTTP {r.status_code}: {str(detail)[:200]}"


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


class Pacer:
    """When each message may go: the speed-up, the real clock, and the rate limit."""

    def __init__(self, sim_start: datetime, speed: float, rate: float) -> None:
        self.sim_start = sim_start
        self.speed = speed
        self.interval = 1 / rate if rate > 0 else 0.0
        self.wall_start = time.monotonic()
        self.next_slot = self.wall_start

    def delay(self, at: datetime) -> float:
        """Seconds to wait before a message of simulated time ``at`` may go (ignoring the
        rate limit)."""
        due = self.wall_start + (at - self.sim_start).total_seconds() / self.speed
        return due - time.monotonic()

    def slot(self, count: int = 1) -> float:
        """Seconds to wait for the rate limit to let ``count`` messages go."""
        if not self.interval:
            return 0.0
        now = time.monotonic()
        self.next_slot = max(self.next_slot, now) + self.interval * count
        return max(0.0, self.next_slot - self.interval * count - now)


async def run(
    stream: CityStream,
    measures: Transport,
    http: httpx.AsyncClient,
    *,
    tally: Tally,
    speed: float,
    rate: float,
    duration: float | None = None,
    tenant: str = "",
    credential: str = "",
    stop: asyncio.Event | None = None,
    report: Callable[[str], None] | None = None,
    every: float = 5.0,
) -> Tally:
    """Send ``stream`` until ``duration`` seconds have passed or ``stop`` is set; progress
    goes to ``report`` every ``every`` seconds. SendError when the hub or broker is gone."""
    stop = stop or asyncio.Event()
    pacer = Pacer(stream.clock, speed, rate)
    ends = None if duration is None else pacer.wall_start + duration
    next_report = time.monotonic() + every
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    sightings_on = True

    async def wait(seconds: float) -> bool:
        """Sleep; False when it is time to stop."""
        if ends is not None:
            seconds = min(seconds, ends - time.monotonic())
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
        return not stop.is_set() and (ends is None or time.monotonic() < ends)

    while True:
        at = stream.clock
        if not await wait(pacer.delay(at)):
            return tally
        for msg in stream.tick():
            count = len(msg.body) if msg.kind == SIGHTINGS else 1
            if not await wait(pacer.slot(count)):
                return tally
            if msg.kind == SIGHTINGS:
                if not sightings_on:
                    continue
                seen = [{**s, "at": stamp(datetime.now(UTC))} for s in msg.body]
                r = await _post(http, SIGHTINGS_PATH, seen, headers)
                why = None if r.status_code < 300 else _why(r)
                if r.status_code in (401, 403):
                    sightings_on = False  # no credential for them: the measures go on
                    why = f"{why} (give --key with events:write to send bus sightings)"
                    if report is not None:
                        report(f"bus sightings refused: {why}; sending measures only")
            else:
                taken = datetime.now(UTC) - msg.span / speed
                why = await measures.measure(msg, {"TimeInstant": stamp(taken), **msg.body})
            if why is None:
                tally.sent[msg.kind] += count
            else:
                tally.refused[msg.kind] += count
                tally.reasons.setdefault(msg.kind, why)
        tally.clock = stream.clock
        if report is not None and time.monotonic() >= next_report:
            report(tally.line())
            next_report = time.monotonic() + every
