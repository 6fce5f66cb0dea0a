"""Forwarding situation events to an external integrated platform, with retries.

When ``forward_url`` is set, the change-log consumer ``forward`` queues one interworking
EVENT message for every new event and every change of an event's status or details, in the
same transaction that moves its cursor (``interwork_outbox``, migration 0014): a queued message
survives a crash, and a change is queued once. Events that came *from* interworking
(``source`` ``interwork:...``) are not sent back.

The :class:`Forwarder` sends the queue in order: it takes a session key from the platform's
``/api/getAuth.json`` (``forward_api_key``), posts each message to ``/linkHttp/recvEvent.json``
with it (``X-Scsns-Secret`` and ``rrKey``), and deletes the message on the platform's OK
code. A platform that cannot be reached holds the whole queue, retried with a growing pause
(order matters: an event's "cleared" must not overtake its "occurred"); a message the platform
refuses is tried again a few times, then kept as dead (``cityhub forward --dead``) so it does
not hold the rest. With several workers, a lease on the head of the queue keeps one sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from cityhub.bus import Change
from cityhub.datamodels.model import short_name
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import SEOUL, TYPE
from cityhub.storage.plain import PlainSql
from cityhub.subscriptions.outbox import backoff_delay

log = logging.getLogger(__name__)
CONSUMER = "forward"
_LEASE_S = 60.0
_REFUSALS = 3  # a refused message is tried this often before it is kept as dead
_WATCHED = frozenset(
    ("status", "statusCode", "description", "placeName", "location", "severity", "eventItems")
)
_GRADE = {"critical": "1", "high": "2", "medium": "3", "low": "4", "informational": "5"}


def _attr(entity: dict[str, Any], name: str) -> dict[str, Any] | None:
    for iri, insts in entity.get("attrs", {}).items():
        if short_name(iri) == name and insts:
            found: dict[str, Any] = insts[0]
            return found
    return None


def _val(entity: dict[str, Any], name: str) -> Any:
    inst = _attr(entity, name)
    if inst is None:
        return None
    value = inst.get("value")
    return value.get("@value") if isinstance(value, dict) and "@value" in value else value


def _sub(entity: dict[str, Any], name: str, sub: str) -> Any:
    """A sub-property's value (``status.changedBy``)."""
    inst = _attr(entity, name) or {}
    for key, value in inst.items():
        if short_name(key) == sub:
            found = value[0] if isinstance(value, list) and value else value
            return found.get("value") if isinstance(found, dict) else found
    return None


def seoul_stamp(iso: Any) -> str:
    """An NGSI-LD date-time as the interworking yyyyMMddHHmmss, Seoul time ('' if none)."""
    if not isinstance(iso, str):
        return ""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return moment.astimezone(SEOUL).strftime("%Y%m%d%H%M%S")


def wanted(change: Change) -> bool:
    """Whether a change of an event is forwarded (new, or its status or details changed)."""
    if change.op == "delete" or not any(
        str(t).endswith(f"/{TYPE}") or t == TYPE for t in change.entity.get("type", ())
    ):
        return False
    if str(_val(change.entity, "source") or "").startswith("interwork:"):
        return False  # it came from a platform: not echoed back
    return change.op == "create" or any(short_name(k) in _WATCHED for k in change.prev)


def event_body(entity: dict[str, Any]) -> dict[str, Any]:
    """The interworking message body of an event (REFERENCE §1)."""
    loc = _val(entity, "location")
    coords = loc.get("coordinates", []) if isinstance(loc, dict) else []
    items = _val(entity, "eventItems") or []
    body: dict[str, Any] = {
        "evtId": _val(entity, "eventCode"),
        "evtNm": _val(entity, "eventName"),
        "evtGrad": _val(entity, "eventGrade") or _GRADE.get(str(_val(entity, "severity")), "3"),
        "ocrNbr": _val(entity, "occurrenceNumber"),
        "ocrSts": _val(entity, "statusCode"),
        "ocrPlc": _val(entity, "placeName") or "",
        "ocrEvtCn": _val(entity, "description") or "",
        "ocrEvtTime": seoul_stamp(_val(entity, "occurredAt")),
        "ocrEvtSts": {
            "ocrEvtStsCd": _val(entity, "statusCode"),
            "ocrEvtStsDtl": _sub(entity, "status", "reason") or _val(entity, "status"),
        },
        "ocrEvtStsUsr": {
            "ocrEvtUsrId": _sub(entity, "status", "changedBy") or "",
            "ocrEvtUsrNm": _sub(entity, "status", "changedBy") or "",
        },
        "ocrEvtStsTime": seoul_stamp(_val(entity, "statusChangedAt")),
        "ocrEvtEndTime": seoul_stamp(_val(entity, "endedAt")),
        "ocrEvtItemCnt": len(items) if isinstance(items, list) else 0,
        "ocrEvtItem": items if isinstance(items, list) else [],
    }
    if len(coords) >= 2:
        body["ocrLc"] = {"crdntX": coords[0], "crdntY": coords[1], "crdntZ": 0}
    return body


def header(svc: str, send_cd: str, session: str, body: bytes) -> dict[str, Any]:
    """An interworking message header."""
    return {
        "svcTy": svc,
        "hdCnt": 1,
        "dtCnt": 1,
        "apSeq": {"apCurrent": 1, "apTotal": 1},
        "cmnMtd": "POST",
        "sendCd": send_cd,
        "rcvCd": "",
        "encAt": "N",
        "tranTy": "HTTP",
        "rrKey": session,
        "reqDate": datetime.now(UTC).astimezone(SEOUL).strftime("%Y%m%d%H%M%S"),
        "bodyLen": len(body),
        "sysCd": "CTH",
        "tranSysHis": [],
        "callBack": {"useYn": "N", "targetUrl": ""},
    }


class Refused(Exception):
    """The platform answered with a failure code."""


class Forwarder:
    """The consumer that queues messages, and the sender that delivers them."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = PlainSql(hub.storage)
        self.settings = hub.settings
        self.session: str | None = None
        self._wake = asyncio.Event()
        self._failures = 0  # consecutive transport failures (for the pause)

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Queue the changes worth forwarding, moving the cursor with them."""
        now = time.time()
        rows = [
            (
                "INSERT INTO interwork_outbox (tenant, event_id, body, created_at, due) "
                "VALUES (?, ?, ?, ?, ?)",
                (c.tenant, c.entity_id, orjson.dumps(event_body(c.entity)).decode(), c.at, now),
            )
            for c in changes
            if wanted(c)
        ]
        if not rows:
            return False
        await self.db.run(rows, cursor=(CONSUMER, old, new))
        self._wake.set()
        return True

    async def run(self) -> None:
        """Send the queue while serving."""
        async with httpx.AsyncClient(timeout=self.settings.notify_timeout) as client:
            while True:
                self._wake.clear()
                pause = await self.send_due(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)

    async def send_due(self, client: httpx.AsyncClient) -> float:
        """Send due messages in order until the queue is empty or blocked; the pause before
        the next round."""
        while True:
            now = time.time()
            head = await self.db.rows(
                "SELECT id, body, attempts, due, claimed_until FROM interwork_outbox "
                "WHERE dead = 0 ORDER BY id LIMIT 1"
            )
            if not head:
                return 30.0
            rid, body, attempts, due, claimed = head[0]
            wait = max(due, claimed) - now
            if wait > 0:
                return max(0.05, float(wait))
            took = await self.db.run(
                [
                    (
                        "UPDATE interwork_outbox SET claimed_until = ? "
                        "WHERE id = ? AND claimed_until = ?",
                        (now + _LEASE_S, rid, claimed),
                    )
                ]
            )
            if took != [1]:
                return 1.0  # another worker sends
            try:
                await self._send(client, body.encode() if isinstance(body, str) else body)
            except Refused as why:
                await self._refused(rid, attempts + 1, str(why))
                continue
            except (httpx.HTTPError, OSError, ValueError) as err:
                self._failures += 1
                delay = backoff_delay(self._failures, 1.0, self.settings.notify_backoff_max)
                dead = attempts + 1 >= self.settings.forward_max_attempts
                await self.db.run(
                    [
                        (
                            "UPDATE interwork_outbox SET attempts = ?, due = ?, claimed_until = 0,"
                            " last_error = ?, dead = ? WHERE id = ?",
                            (attempts + 1, now + delay, str(err)[:500], int(dead), rid),
                        )
                    ]
                )
                log.warning("forwarding event message %s failed: %s", rid, err)
                return 0.05 if dead else delay
            self._failures = 0
            await self.db.run([("DELETE FROM interwork_outbox WHERE id = ?", (rid,))])

    async def _refused(self, rid: int, attempts: int, why: str) -> None:
        dead = attempts >= _REFUSALS
        await self.db.run(
            [
                (
                    "UPDATE interwork_outbox SET attempts = ?, due = ?, claimed_until = 0, "
                    "last_error = ?, dead = ? WHERE id = ?",
                    (attempts, time.time() + 2.0 * attempts, why[:500], int(dead), rid),
                )
            ]
        )
        log.warning("the platform refused event message %s: %s", rid, why)

    async def _send(self, client: httpx.AsyncClient, body: bytes) -> None:
        """Post one message (after a session handshake when there is no session yet)."""
        for fresh in (False, True):
            if self.session is None or fresh:
                self.session = await self._auth(client)
            head = header("EVENT", self.settings.forward_send_code, self.session, body)
            raw = b'{"header":' + orjson.dumps(head) + b',"body":' + body + b"}"
            r = await client.post(
                self._url("/linkHttp/recvEvent.json"),
                content=raw,
                headers={"Content-Type": "application/json", "X-Scsns-Secret": self.session},
            )
            result, message = _result(r)
            if result == self.settings.interwork_ok_code:
                return
            if not fresh and "session" in message.lower():
                continue  # the session expired: a new one, once
            raise Refused(message or f"result {result}")

    async def _auth(self, client: httpx.AsyncClient) -> str:
        payload = {"apiKey": self.settings.forward_api_key}
        body = orjson.dumps(payload)
        msg = {"header": header("AUTH", self.settings.forward_send_code, "", body), "body": payload}
        r = await client.post(self._url("/api/getAuth.json"), json=msg)
        result, message = _result(r)
        if result != self.settings.interwork_ok_code or not message:
            raise Refused(f"the platform refused the session: {message or result}")
        return message

    def _url(self, path: str) -> str:
        return self.settings.forward_url.rstrip("/") + path

    async def dead(self) -> list[dict[str, Any]]:
        """Messages kept as dead, oldest first."""
        rows = await self.db.rows(
            "SELECT id, tenant, event_id, attempts, last_error, created_at FROM interwork_outbox"
            " WHERE dead = 1 ORDER BY id"
        )
        keys = ("id", "tenant", "eventId", "attempts", "lastError", "createdAt")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def pending(self) -> int:
        """Messages waiting to be sent."""
        rows = await self.db.rows("SELECT COUNT(*) FROM interwork_outbox WHERE dead = 0")
        return int(rows[0][0])


def _result(r: httpx.Response) -> tuple[str, str]:
    """(result code, message) of a platform answer; ValueError for a broken one (retried)."""
    if r.status_code >= 500:
        raise ValueError(f"the platform answered HTTP {r.status_code}")
    try:
        doc = r.json()
    except ValueError as err:
        raise ValueError(f"the platform's answer is not JSON (HTTP {r.status_code})") from err
    if not isinstance(doc, dict) or "result" not in doc:
        raise ValueError(f"the platform's answer has no result (HTTP {r.status_code})")
    return str(doc["result"]), str(doc.get("message", ""))


def install(hub: Hub) -> Forwarder | None:
    """Forward events when ``forward_url`` is set."""
    if not hub.settings.forward_url:
        return None
    forwarder = hub.extras["forward"] = Forwarder(hub)
    hub.feed(CONSUMER, forwarder.handle)
    hub.tasks.append(forwarder.run)
    return forwarder
