"""Automatic actions of the operations center: find the nearest CCTV, send an SMS, notify.

An action is a small JSON object with a ``kind``; SOP steps run them (cityhub/ops/sop.py) and
rules may later too. :func:`check_action` validates one (BadRequestData naming the member),
:meth:`Actions.run` executes one for an event and never raises: a failure comes back as
``{"ok": false, "error": "..."}``, a success as ``{"ok": true, ...}``.

- ``{"kind": "nearestCctv", "count": 5, "maxDistance": 500}`` → ``{"cameras": [ids]}``;
- ``{"kind": "sms", "to": ["010-..."], "text": "{eventName} {place}"}`` → sent through the
  SMS gateway of the ``sms_gateway`` setting (``log``: a line in ``<data_dir>/sms.jsonl``;
  an ``http(s)://`` URL: ``POST {"to", "text"}`` there);
- ``{"kind": "notify", "channel": "webhook", "url": "https://..."}`` → the event (keyValues)
  posted there, ``{"status": <HTTP status>}``;
- ``{"kind": "notify", "agency": "fire119", "text"?: "..."}`` → a message in that agency's inbox.

Texts are formatted from the event's fields (``{eventName}``, ``{place}``, ``{severity}``,
``{time}``, ...); unknown names stay as written.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from cityhub.errors import BadRequestData, ConfigError, NgsiError
from cityhub.guard.outbound import check_outbound
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import SEOUL, _value
from cityhub.ops.inbox import Inbox
from cityhub.ops.live import key_values
from cityhub.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("nearestCctv", "sms", "notify")
WEB = ("http", "https")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,19}$")
_AGENCY = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_MAX_TEXT = 2000
_DEFAULT_NOTICE = "[{severity}] {eventName} {place} ({eventId})"


# --- validation --------------------------------------------------------------------------


def check_action(action: Any, where: str = "action") -> dict[str, Any]:
    """A valid action (a copy), or BadRequestData naming the bad member (``where.member``)."""
    if not isinstance(action, dict):
        raise BadRequestData(f"{where} must be a JSON object with a kind")
    kind = action.get("kind")
    if kind not in KINDS:
        raise BadRequestData(f"{where}.kind must be one of {', '.join(KINDS)}, not {kind!r}")
    allowed = {
        "nearestCctv": {"kind", "count", "maxDistance"},
        "sms": {"kind", "to", "text"},
        "notify": {"kind", "channel", "url", "agency", "text"},
    }[kind]
    unknown = sorted(set(action) - allowed)
    if unknown:
        raise BadRequestData(f"{where} ({kind}) has unknown members: {', '.join(unknown)}")
    found = dict(action)
    if kind == "nearestCctv":
        count = found.setdefault("count", 5)
        if not _is_int(count) or not 1 <= count <= 100:
            raise BadRequestData(f"{where}.count must be an integer from 1 to 100")
        distance = found.setdefault("maxDistance", 500)
        if not _is_number(distance) or not 0 < distance <= 50_000:
            raise BadRequestData(f"{where}.maxDistance must be more than 0 and at most 50000 m")
    elif kind == "sms":
        to = found.get("to")
        if not isinstance(to, list) or not to or len(to) > 100:
            raise BadRequestData(f"{where}.to must be a list of 1-100 phone numbers")
        for i, number in enumerate(to):
            if not isinstance(number, str) or not _PHONE.match(number):
                raise BadRequestData(f"{where}.to[{i}] is not a phone number: {number!r}")
        _check_text(found.get("text"), f"{where}.text")
    elif "agency" in found:
        if not isinstance(found["agency"], str) or not _AGENCY.match(found["agency"]):
            raise BadRequestData(f"{where}.agency must be an agency account name")
        if found.get("channel", "inbox") != "inbox" or "url" in found:
            raise BadRequestData(f"{where}: notify an agency (inbox) or a webhook url, not both")
        if "text" in found:
            _check_text(found["text"], f"{where}.text")
    else:
        if found.get("channel") != "webhook":
            raise BadRequestData(
                f'{where}.channel must be "webhook" (with a url), or give an agency'
            )
        url = found.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise BadRequestData(f"{where}.url must be an http(s) URL")
        if "text" in found:
            raise BadRequestData(f"{where}: a webhook gets the event, it has no text")
    return found


def _check_text(text: Any, where: str) -> None:
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
        raise BadRequestData(f"{where} must be a text of 1-{_MAX_TEXT} characters")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def webhook_urls(action: dict[str, Any]) -> list[str]:
    """The URLs an action would connect to (to check against the outbound rules early)."""
    if action.get("kind") == "notify" and action.get("channel") == "webhook":
        return [str(action["url"])]
    return []


# --- texts from event fields -------------------------------------------------------------


class _Fields(dict[str, str]):
    """Event fields for ``str.format_map``: an unknown name stays as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def event_fields(event: Entity) -> dict[str, str]:
    """The event's plain fields by short name, with ``eventId``, ``place``, ``lon``/``lat``
    and ``time`` (occurrence, Seoul time) added."""
    found = {
        k: str(v)
        for k, v in key_values(event).items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    found["eventId"] = str(event.get("id", ""))
    found.setdefault("place", found.get("placeName", ""))
    loc = _value(event, "location")
    if isinstance(loc, dict) and loc.get("type") == "Point":
        found["lon"], found["lat"] = (str(c) for c in loc["coordinates"][:2])
    occurred = found.get("occurredAt")
    if occurred:
        try:
            moment = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
            found["time"] = moment.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            pass
    return found


_FIELD = re.compile(r"\{([^{}]*)\}")


def _plain_field(match: re.Match[str]) -> str:
    """A replacement field as is when it names a field, escaped when it reaches into one
    (``{a.b}``, ``{a[0]}``: no attribute or item access from a template)."""
    name = re.split(r"[:!]", match.group(1), maxsplit=1)[0]
    return match.group(0) if name.isidentifier() else "{" + match.group(0) + "}"


def format_text(text: str, fields: dict[str, str]) -> str:
    """``text`` with ``{name}`` replaced by event fields (``str.format_map``; unknown names
    stay as written); malformed braces leave the text as it is."""
    try:
        return _FIELD.sub(_plain_field, text).format_map(_Fields(fields))
    except (ValueError, IndexError, AttributeError, KeyError, TypeError):
        return text


# --- SMS gateways ------------------------------------------------------------------------


class SmsGateway(Protocol):
    """Sends one text to some phone numbers; returns what to record (raises on failure)."""

    async def send(self, to: list[str], text: str) -> dict[str, Any]: ...


class LogGateway:
    """No real SMS: one JSON line per message appended to a file, and a log line (the
    default; a city plugs its SMS provider in with the ``sms_gateway`` setting)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, to: list[str], text: str) -> dict[str, Any]:
        line = orjson.dumps({"at": now_iso(), "to": to, "text": text}) + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        log.info("SMS to %s: %s", ", ".join(to), text)
        return {"sent": len(to), "gateway": "log"}

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(line)


class HttpGateway:
    """Posts ``{"to", "text"}`` as JSON to the city's SMS service (checked like every
    outbound URL: no internal address unless ``outbound_allow`` lists it)."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    async def send(self, to: list[str], text: str) -> dict[str, Any]:
        await check_outbound(self.url, self.settings, schemes=WEB)
        async with httpx.AsyncClient(timeout=self.settings.notify_timeout) as client:
            resp = await client.post(self.url, json={"to": to, "text": text})
        if not 200 <= resp.status_code < 300:
            raise RuntimeError(f"the SMS gateway answered HTTP {resp.status_code}")
        return {"sent": len(to), "gateway": "http", "status": resp.status_code}


def sms_gateway(settings: Settings) -> SmsGateway:
    """The gateway the ``sms_gateway`` setting names (ConfigError for anything else)."""
    choice = settings.sms_gateway.strip()
    if choice in ("", "log"):
        return LogGateway(Path(settings.data_dir).expanduser() / "sms.jsonl")
    if choice.lower().startswith(("http://", "https://")):
        return HttpGateway(choice, settings)
    raise ConfigError(f"sms_gateway must be log or an http(s):// URL, not {choice!r}")


# --- running actions ---------------------------------------------------------------------


class Actions:
    """Runs automatic actions for events (``hub.extras["actions"]``)."""

    def __init__(self, hub: Hub, cctv: CctvService, inbox: Inbox, sms: SmsGateway) -> None:
        self.hub = hub
        self.cctv = cctv
        self.inbox = inbox
        self.sms = sms

    async def run(self, tenant: str, event: Entity, action: dict[str, Any]) -> dict[str, Any]:
        """Run ``action`` for ``event``: ``{"ok": true, ...}`` or ``{"ok": false, "error"}``."""
        try:
            checked = check_action(action)
            kind = checked["kind"]
            if kind == "nearestCctv":
                found = await self._nearest(tenant, event, checked)
            elif kind == "sms":
                found = await self._sms(event, checked)
            elif "agency" in checked:
                found = await self._inbox(tenant, event, checked)
            else:
                found = await self._webhook(event, checked)
        except NgsiError as err:
            return {"ok": False, "error": err.detail}
        except _Refused as err:
            return {"ok": False, "error": str(err), "status": err.status}
        except httpx.HTTPError as err:
            return {"ok": False, "error": f"{type(err).__name__}: {err}".rstrip(": ")}
        except Exception as err:  # noqa: BLE001 - an action's failure is its result
            kind = action.get("kind") if isinstance(action, dict) else None
            log.warning("action %s for %s failed", kind, event.get("id"), exc_info=True)
            return {"ok": False, "error": f"{type(err).__name__}: {err}".rstrip(": ")}
        return {"ok": True, **found}

    async def _nearest(self, tenant: str, event: Entity, action: dict[str, Any]) -> dict[str, Any]:
        loc = _value(event, "location")
        if not isinstance(loc, dict) or loc.get("type") != "Point":
            raise BadRequestData(f"event {event.get('id')} has no location")
        lon, lat = loc["coordinates"][0], loc["coordinates"][1]
        found = await self.cctv.nearest(
            tenant, lon, lat, action["count"], float(action["maxDistance"])
        )
        return {"cameras": [c["id"] for c in found]}

    async def _sms(self, event: Entity, action: dict[str, Any]) -> dict[str, Any]:
        text = format_text(action["text"], event_fields(event))
        return {"text": text, **await self.sms.send(action["to"], text)}

    async def _inbox(self, tenant: str, event: Entity, action: dict[str, Any]) -> dict[str, Any]:
        text = format_text(action.get("text", _DEFAULT_NOTICE), event_fields(event))
        message = await self.inbox.post(tenant, action["agency"], event["id"], text, "system")
        return {"agency": message.agency, "message": message.id}

    async def _webhook(self, event: Entity, action: dict[str, Any]) -> dict[str, Any]:
        url = action["url"]
        await check_outbound(url, self.hub.settings, schemes=WEB)
        body = key_values(event) | {"type": "CityEvent"}
        async with httpx.AsyncClient(timeout=self.hub.settings.notify_timeout) as client:
            resp = await client.post(url, content=orjson.dumps(body), headers=_JSON)
        if not 200 <= resp.status_code < 300:
            raise _Refused(resp.status_code)
        return {"status": resp.status_code}


_JSON = {"Content-Type": "application/json"}


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"the receiver answered HTTP {status}")
        self.status = status
