"""The platform side of the public data-hub ↔ integrated-platform interworking, so existing
senders work unchanged (REFERENCE §1: header + body messages, AUTH then EVENT).

- ``POST /api/getAuth.json``: ``{"header": {"svcTy": "AUTH", ...}, "body": {"apiKey": ...}}``
  → ``{"result": <ok code>, "message": <session key>}``. The apiKey is a cityhub API key (any
  key is accepted when auth is off); the session key lasts ``interwork_session_hours``.
- ``POST /linkHttp/recvEvent.json``: ``{"header": {"svcTy": "EVENT"|"PREEVT", "sendCd",
  "encAt", "rrKey", ...}, "body": {"evtId", "evtNm", "evtGrad", "ocrNbr", "ocrLc", "ocrPlc",
  "ocrEvtCn", "ocrEvtSts": {"ocrEvtStsCd"}, "ocrEvtItem", ...}}`` with the session key in the
  ``X-Scsns-Secret`` header (or ``rrKey``). Each event lands as the ``CityEvent``
  ``urn:ngsi-ld:CityEvent:{sendCd}:{ocrNbr}``; its status code moves it (10 occurred, 40
  information updated, 50 cleared, 90 cancelled, 91 completed).

Answers are ``{"result", "message"}`` with HTTP 200, as senders expect; the result codes are
settings (``interwork_ok_code``, default "0"; anything else is "1"), since the public
documents do not fix them. ARIA-256 bodies (``encAt`` Y) are refused: no maintained Python
library offers ARIA.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityhub.auth.store import APIKEY, AuthStore
from cityhub.errors import Conflict, NgsiError, NonexistentTenant, ResourceNotFound
from cityhub.ngsild.http import method_route, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.events import EventService, EventSpec

SESSION = "interwork"
_STATUS = {"10": "occurred", "50": "cleared", "90": "cancelled", "91": "completed"}
_GRADES = {"1": "critical", "2": "high", "3": "medium", "4": "low", "5": "informational"}


class Refused(Exception):
    """A message the platform side does not take, with the reason sent back."""


def answer(request: Request, ok: bool, message: str, status: int = 200, **more: Any) -> Response:
    """The interworking answer ``{"result", "message"}`` (and any ``more`` members)."""
    settings = hub_of(request).settings
    code = settings.interwork_ok_code if ok else settings.interwork_fail_code
    body = orjson.dumps({"result": code, "message": message} | more)
    return Response(body, status_code=status, media_type="application/json")


Message = tuple[dict[str, Any], dict[str, Any]]  # header, body


async def message(request: Request, kinds: tuple[str, ...]) -> Message:
    raw = await request.body()
    if len(raw) > hub_of(request).settings.max_body_bytes:
        raise Refused("the message is too large")
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise Refused(f"the message is not JSON: {err}") from err
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        raise Refused('a message is {"header": {...}, "body": {...}}')
    header, body = msg["header"], msg.get("body", {})
    if header.get("svcTy") not in kinds:
        raise Refused(f"svcTy must be {' or '.join(kinds)}, not {header.get('svcTy')!r}")
    if str(header.get("encAt", "N")).upper() == "Y":
        raise Refused("encAt=Y (ARIA-256 body encryption) is not supported: send encAt=N over TLS")
    if not isinstance(body, dict):
        raise Refused("the body must be an object")
    return header, body


async def get_auth(request: Request) -> Response:
    """POST /api/getAuth.json: a session key for a sender."""
    try:
        header, body = await message(request, ("AUTH",))
        key = body.get("apiKey") or header.get("apiKey") or request.headers.get("apiKey")
        if not isinstance(key, str) or not key:
            raise Refused("give apiKey")
        hub = hub_of(request)
        store: AuthStore = hub.extras["auth"]
        user = "interwork"
        if hub.settings.auth == "on":
            found = await store.by_token(key)
            if found is None or found[1].kind != APIKEY:
                raise Refused("unknown or revoked apiKey")
            user = found[0].name
        hours = hub.settings.interwork_session_hours
        sender = str(header.get("sendCd", ""))
        secret, _info = await store.issue(user, SESSION, sender, hours * 3600)
    except Refused as why:
        return answer(request, False, str(why))
    return answer(request, True, secret)


async def session_user(request: Request, header: dict[str, Any]) -> str:
    """The user whose session key the message carries (``X-Scsns-Secret`` or ``rrKey``);
    Refused without a valid one. With auth off: ``interwork``."""
    hub = hub_of(request)
    if hub.settings.auth != "on":
        return "interwork"
    key = request.headers.get("x-scsns-secret") or header.get("rrKey")
    store: AuthStore = hub.extras["auth"]
    found = await store.by_token(str(key)) if key else None
    if found is None or found[1].kind != SESSION:
        raise Refused("no valid session key (X-Scsns-Secret): call /api/getAuth.json")
    return found[0].name


async def recv_event(request: Request) -> Response:
    """POST /linkHttp/recvEvent.json: one event message."""
    hub = hub_of(request)
    try:
        header, body = await message(request, ("EVENT", "PREEVT"))
        actor = await session_user(request, header)
        send_cd, number = header.get("sendCd"), body.get("ocrNbr")
        if not isinstance(send_cd, str) or not send_cd or not isinstance(number, str | int):
            raise Refused("the message needs header.sendCd and body.ocrNbr")
        events = hub.extras["events"]
        event_id = await _apply(events, tenant_of(request), send_cd, header, body, actor)
    except Refused as why:
        return answer(request, False, str(why))
    except NgsiError as err:
        return answer(request, False, err.detail)
    return answer(request, True, event_id)


async def _apply(
    events: EventService,
    tenant: str,
    send_cd: str,
    header: dict[str, Any],
    body: dict[str, Any],
    actor: str,
) -> str:
    number = str(body["ocrNbr"])
    event_id = f"urn:ngsi-ld:CityEvent:{send_cd}:{number}"
    status = body.get("ocrEvtSts") or {}
    if not isinstance(status, dict):
        raise Refused("ocrEvtSts must be an object with ocrEvtStsCd")
    code = str(status.get("ocrEvtStsCd", body.get("ocrSts", "10")))
    if code not in ("10", "40", "50", "90", "91"):
        raise Refused(f"ocrEvtStsCd must be one of 10, 40, 50, 90, 91, not {code!r}")
    detail = status.get("ocrEvtStsDtl", "")
    try:
        await events.get(tenant, event_id)
        exists = True
    except (ResourceNotFound, NonexistentTenant):  # not yet sent, or a tenant without data
        exists = False
    if not exists:
        await events.raise_event(tenant, _spec(send_cd, number, header, body, event_id), actor)
    elif code in ("10", "40"):
        await events.update_info(tenant, event_id, _spec(send_cd, number, header, body, event_id))
    to = _STATUS.get(code)
    if to is not None and to != "occurred":
        try:
            await events.transition(tenant, event_id, to, actor, str(detail or f"status {code}"))
        except Conflict as err:
            raise Refused(err.detail) from err
    return event_id


def _spec(
    send_cd: str, number: str, header: dict[str, Any], body: dict[str, Any], event_id: str
) -> EventSpec:
    loc = body.get("ocrLc")
    point = None
    if isinstance(loc, dict):
        try:
            lon, lat = float(loc["crdntX"]), float(loc["crdntY"])
        except (KeyError, TypeError, ValueError):
            raise Refused("ocrLc needs numeric crdntX (longitude) and crdntY (latitude)") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise Refused("ocrLc is out of range (crdntX longitude, crdntY latitude)")
        point = (lon, lat)
    items = body.get("ocrEvtItem") or []
    if not isinstance(items, list):
        raise Refused("ocrEvtItem must be a list of {key, val}")
    grade = str(body.get("evtGrad", ""))
    return EventSpec(
        event_code=str(body.get("evtId") or "UNKNOWN"),
        event_name=str(body.get("evtNm") or body.get("evtId") or "event"),
        severity=_GRADES.get(grade, "medium"),
        category="other",
        description=str(body.get("ocrEvtCn") or ""),
        place=str(body.get("ocrPlc") or ""),
        location=point,
        dedupe_key=f"interwork:{send_cd}:{number}",
        source=f"interwork:{header.get('sysCd') or send_cd}",
        items=[
            {"key": str(i.get("key")), "val": str(i.get("val", ""))}
            for i in items
            if isinstance(i, dict) and "key" in i
        ],
        event_id=event_id,
        grade=grade or None,
        sender=send_cd,
        message_type=str(header.get("svcTy")),
    )


routes = [
    method_route("/api/getAuth.json", POST=get_auth),
    method_route("/linkHttp/recvEvent.json", POST=recv_event),
]
