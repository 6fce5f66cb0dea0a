"""What every scripted incident (``cityhub scenario``) is built from.

- :class:`HubApi`: the hub's public HTTP API as the outside world uses it (an account's API key
  or login token, the tenant header), with errors turned into :class:`ScenarioError` messages
  that say what was refused and why;
- :class:`Flow`: the incident's clock: each step is printed as it happens with the seconds
  since the start, and :meth:`Flow.until` waits for the platform to do something, failing with
  the step that did not happen once the scenario's time is up;
- :class:`DemoCity`: the demo city of a seed (cityhub/sim/city.py), from which scenarios pick
  their places, and :meth:`DemoCity.check`, which makes sure the hub holds that very city;
- helpers that follow a situation event: its SOP checklist and the agencies' inboxes.

Nothing here reaches into the hub's internals: a scenario sees what an agency, a sensor or an
operator would see.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from cityhub.sim.city import generate

T = TypeVar("T")
MARK = "urn:ngsi-ld:District:demo-jungang"  # the entity `cityhub demo` writes first
_SOP_LABELS = {"nearestCctv": "cameras", "notify": "notify", "sms": "SMS"}


class ScenarioError(Exception):
    """A scenario could not run, or a step of its flow did not happen (the message says which)."""


def now_iso(moment: datetime | None = None) -> str:
    """An NGSI-LD DateTime (UTC, milliseconds)."""
    at = moment or datetime.now(UTC)
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HubApi:
    """The hub's HTTP API for one account and tenant."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, credential: str = "", tenant: str = ""
    ) -> None:
        self.client = client
        self.url = url.rstrip("/")
        self.credential = credential
        self.tenant = tenant

    def headers(self) -> dict[str, str]:
        """Authorization and tenant headers."""
        found = {}
        if self.credential:
            found["Authorization"] = f"Bearer {self.credential}"
        if self.tenant:
            found["NGSILD-Tenant"] = self.tenant
        return found

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> httpx.Response:
        """One request; ScenarioError for a hub that cannot be reached or refuses it."""
        try:
            r = await self.client.request(
                method,
                self.url + path,
                json=body,
                params=params,
                headers=self.headers(),
                timeout=30,
            )
        except httpx.HTTPError as err:
            raise ScenarioError(f"cannot reach the hub at {self.url}: {err}") from err
        if r.status_code in ok:
            return r
        if r.status_code == 401:
            raise ScenarioError(
                f"the hub at {self.url} asks for credentials ({method} {path}: HTTP 401): pass "
                "--key with an API key or login token of an account with the admin role"
            )
        if r.status_code == 403:
            raise ScenarioError(
                f"the account may not {method} {path} (HTTP 403): the scenario needs an "
                "account with the admin role in the tenant"
            )
        raise ScenarioError(f"{method} {path}: HTTP {r.status_code}: {_detail(r)}")

    async def get(self, path: str, **params: Any) -> Any:
        """GET, the JSON answer."""
        return (await self.call("GET", path, params=params or None)).json()

    async def post(self, path: str, body: Any = None) -> Any:
        """POST, the JSON answer (None when empty)."""
        r = await self.call("POST", path, body=body if body is not None else {})
        return r.json() if r.content else None

    async def entity(self, entity_id: str) -> dict[str, Any] | None:
        """An entity in keyValues form, or None when the hub has none of that id."""
        r = await self.call(
            "GET",
            f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}",
            params={"options": "keyValues"},
            ok=(200, 404),
        )
        found: dict[str, Any] | None = r.json() if r.status_code == 200 else None
        return found

    async def update(self, entity_id: str, attrs: dict[str, Any]) -> None:
        """Change attributes of an entity (NGSI-LD, normalized attributes), as a sensor does."""
        await self.call(
            "PATCH", f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':')}/attrs", body=attrs
        )

    async def update_many(self, entities: list[dict[str, Any]]) -> None:
        """Change attributes of several entities in one batch (every one must exist)."""
        r = await self.call(
            "POST", "/ngsi-ld/v1/entityOperations/update", body=entities, ok=(204, 207)
        )
        if r.status_code == 207:
            errors = r.json().get("errors") or [{}]
            raise ScenarioError(f"the hub refused an update: {errors[0]}")

    async def events(self, code: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The situation events of one event code, newest first."""
        found: list[dict[str, Any]] = await self.get(
            "/cityhub/v1/events", eventCode=code, limit=limit
        )
        return found

    async def event(self, event_id: str) -> dict[str, Any]:
        """One situation event (short names, values)."""
        found: dict[str, Any] = await self.get(f"/cityhub/v1/events/{quote(event_id, safe=':')}")
        return found


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


class Flow:
    """The clock of one scenario run: printed steps and bounded waits."""

    def __init__(self, echo: Callable[[str], None], timeout_s: float) -> None:
        self.echo = echo
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.steps = 0

    def elapsed(self) -> float:
        """Seconds since the scenario started."""
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        """Print what the scenario does (an input to the platform)."""
        self.echo(f"[{self.elapsed():6.1f}s]   {text}")

    def saw(self, text: str) -> None:
        """Print a step of the flow the platform completed."""
        self.steps += 1
        self.echo(f"[{self.elapsed():6.1f}s] ✓ {text}")

    async def until(
        self,
        what: str,
        probe: Callable[[], Awaitable[T | None]],
        every_s: float = 0.25,
        nudge: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Wait for ``probe`` to give something; ScenarioError naming ``what`` when the
        scenario's time runs out first. ``nudge`` runs about every second while waiting: a
        sensor repeating its reading, as sensors in alarm report more often (and so the
        flow stands even when other data of the same sensor arrives meanwhile)."""
        nudged = time.monotonic()
        while True:
            found = await probe()
            if found is not None:
                return found
            if self.elapsed() > self.timeout_s:
                raise ScenarioError(f"{what}: not seen within {self.timeout_s:g} s")
            await asyncio.sleep(every_s)
            if nudge is not None and time.monotonic() - nudged >= 1.0:
                nudged = time.monotonic()
                await nudge()


class DemoCity:
    """The demo city of a seed, as `cityhub demo` writes it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.entities = generate(seed)
        self.by_id = {e["id"]: e for e in self.entities}

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The entities of a type, in the order they were generated."""
        return [e for e in self.entities if e["type"] == kind]

    async def check(self, hub: HubApi, ids: list[str]) -> None:
        """Make sure the hub holds this demo city and each of ``ids`` (same place): a
        ScenarioError saying what is missing otherwise."""
        where = f"tenant '{hub.tenant}'" if hub.tenant else "the default tenant"
        if await hub.entity(MARK) is None:
            raise ScenarioError(
                f"the hub at {hub.url} holds no demo city in {where} ({MARK} is not there): "
                "start one with `cityhub demo`, or name its tenant with --tenant"
            )
        for entity_id in ids:
            found = await hub.entity(entity_id)
            if found is None:
                raise ScenarioError(
                    f"{entity_id} is not in the hub's demo city: it was written by an older "
                    "cityhub; start `cityhub demo` with a new --data-dir"
                )
            mine = _first(self.by_id[entity_id]["location"]["value"]["coordinates"])
            theirs = found.get("location") or {}
            coords = _first(theirs.get("coordinates") if isinstance(theirs, dict) else None)
            if mine is None or coords is None or _far(mine, coords):
                raise ScenarioError(
                    f"the hub's demo city was not made with seed {self.seed} ({entity_id} "
                    "is elsewhere): pass the --seed `cityhub demo` was started with"
                )


def _first(coords: Any) -> tuple[float, float] | None:
    """The first position of a GeoJSON geometry's coordinates."""
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    if not isinstance(coords, list) or len(coords) < 2:
        return None
    try:
        return float(coords[0]), float(coords[1])
    except (TypeError, ValueError):
        return None


def _far(mine: tuple[float, float], theirs: tuple[float, float]) -> bool:
    return abs(theirs[0] - mine[0]) > 1e-5 or abs(theirs[1] - mine[1]) > 1e-5


def point(entity: dict[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a generated entity with a Point location."""
    lon, lat = entity["location"]["value"]["coordinates"][:2]
    return float(lon), float(lat)


def value(entity: dict[str, Any], name: str) -> Any:
    """An attribute's value of a generated (normalized) entity."""
    attr = entity.get(name)
    return attr.get("value", attr.get("object")) if isinstance(attr, dict) else None


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m`` metres east and ``north_m`` north of (lon, lat)."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return round(lon + dlon, 7), round(lat + dlat, 7)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in metres between two (lon, lat) points (equirectangular, for short ones)."""
    dx = (b[0] - a[0]) * 111_320.0 * math.cos(math.radians((a[1] + b[1]) / 2))
    dy = (b[1] - a[1]) * 111_320.0
    return math.hypot(dx, dy)


def prop(v: Any, observed: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """A normalized NGSI-LD Property."""
    found: dict[str, Any] = {"type": "Property", "value": v}
    if observed:
        found["observedAt"] = observed
    if unit:
        found["unitCode"] = unit
    return found


def items(event: dict[str, Any]) -> dict[str, str]:
    """An event's items as a dict."""
    return {
        str(i.get("key")): str(i.get("val"))
        for i in event.get("eventItems") or []
        if isinstance(i, dict)
    }


def describe(event: dict[str, Any]) -> str:
    """An event in one line: code, name, severity, status and id."""
    return (
        f"{event.get('eventCode')} {event.get('eventName')} "
        f"[{event.get('severity')}, {event.get('status')}] {event.get('id')}"
    )


async def follow_sop(flow: Flow, hub: HubApi, event_id: str, template: str) -> dict[str, Any]:
    """Wait for the event's SOP checklist to start from ``template`` and its automatic steps
    to run; print them. The checklist."""

    async def started() -> dict[str, Any] | None:
        sop = (await hub.event(event_id)).get("sop")
        if not isinstance(sop, dict):
            return None
        steps = [s for s in sop.get("steps") or [] if s.get("auto")]
        return sop if all(s.get("status") != "pending" for s in steps) else None

    sop = await flow.until(f"the SOP '{template}' on event {event_id}", started)
    if sop.get("template") != template:
        raise ScenarioError(
            f"event {event_id} started the SOP '{sop.get('template')}', not '{template}'"
        )
    steps = sop.get("steps") or []
    flow.saw(f"SOP started: {sop.get('name')} ({template}), {len(steps)} steps")
    for step in steps:
        auto = step.get("auto")
        if not isinstance(auto, dict):
            continue
        result = step.get("result") or {}
        label = _SOP_LABELS.get(str(auto.get("kind")), str(auto.get("kind")))
        if step.get("status") != "done":
            flow.say(f"  SOP step {step['id']} ({label}) {step.get('status')}: {result}")
            continue
        if auto.get("kind") == "nearestCctv":
            shown = f"{len(result.get('cameras') or [])} cameras near the scene"
        elif auto.get("kind") == "notify":
            shown = f"message to {result.get('agency') or auto.get('url')}"
        else:
            shown = f"SMS to {', '.join(auto.get('to') or [])}"
        flow.saw(f"  SOP step {step['id']}: {shown}")
    return sop


async def inbox_message(flow: Flow, hub: HubApi, agency: str, event_id: str) -> dict[str, Any]:
    """Wait for a message about the event in an agency's inbox; print it."""

    async def probe() -> dict[str, Any] | None:
        messages = await hub.get("/cityhub/v1/inbox", agency=agency, limit=200)
        return next((m for m in messages if m.get("eventId") == event_id), None)

    message = await flow.until(f"a message to {agency} about {event_id}", probe)
    flow.saw(f"{agency} inbox: {message.get('text')}")
    return message


async def event_ids(hub: HubApi, *codes: str) -> set[str]:
    """The ids of the events of these codes the hub has now (to tell new ones apart)."""
    found: set[str] = set()
    for code in codes:
        found |= {str(e["id"]) for e in await hub.events(code)}
    return found


async def new_event(
    flow: Flow,
    hub: HubApi,
    code: str,
    before: set[str],
    what: str,
    match: Callable[[dict[str, Any]], bool] = lambda e: True,
    nudge: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Wait for a new event of ``code`` (not in ``before``) that ``match``es."""

    async def probe() -> dict[str, Any] | None:
        for event in await hub.events(code):
            if event["id"] not in before and match(event):
                return event
        return None

    return await flow.until(what, probe, nudge=nudge)


async def status_of(
    flow: Flow,
    hub: HubApi,
    event_id: str,
    statuses: tuple[str, ...],
    what: str,
    nudge: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Wait for an event to reach one of ``statuses``."""

    async def probe() -> dict[str, Any] | None:
        event = await hub.event(event_id)
        return event if event.get("status") in statuses else None

    return await flow.until(what, probe, nudge=nudge)
