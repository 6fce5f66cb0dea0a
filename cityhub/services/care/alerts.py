"""Elderly-alone emergencies filed as 119 linked-service requests, and cleared again.

An alert is one *episode* of a condition of a household: inactivity since the last activity,
a cold or hot spell since its first reading out of range, an emergency-button press. The
service files it on behalf of the operations center as a ``119-dispatch`` request for the
agency account ``care_119_agency`` (cityhub/ops/linked.py: an event, the nearest cameras shared
with the agency, the route from the fire station); the event is re-labelled
``emergencyMedical`` and related to the household, and starts the ``119-dispatch`` SOP by its
linked service. The request's ``reference`` is ``care-<household code>-<kind>-<episode start,
Seoul time>``, so filing the same episode again (a second check, another worker, a replay after
a crash) returns the first request: one episode, one request, one event.

When the condition ends (activity again, the temperature back in range) the alert ends. Its
event is *cleared* and its camera shares revoked only when nobody has acted on it yet (status
still ``occurred`` and no arrival reported): once the center acknowledged it or a unit is on
its way, the motion a responder makes entering the home must not close the case; the event then
gets ``conditionEndedAt`` and the operators close it. An emergency-button alert ends only with
its event; presses while it is open are answered by it.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityhub.errors import Conflict, ResourceNotFound
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import OPEN, EventService, _value
from cityhub.ops.linked import SERVICES, Filed, LinkedService
from cityhub.ops.linked import Request as LinkedRequest
from cityhub.services.care.clock import SEOUL, awake_deadline, parse_night, parse_time, stamp
from cityhub.services.care.common import ACTOR, grant_detail, patch_event
from cityhub.services.care.readings import Household
from cityhub.services.care.store import Alert, CareStore

log = logging.getLogger(__name__)

INACTIVITY, COLD, HOT, BUTTON = "inactivity", "cold", "hot", "button"


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of household emergency: its event code and name, and why it ends."""

    code: str
    name: str
    ends: str  # the reason given when the condition is over


KINDS: dict[str, Kind] = {
    INACTIVITY: Kind("CARE0101", "독거노인 활동 미감지", "활동 재개 (센서 감지)"),
    COLD: Kind("CARE0102", "독거노인 가구 실내 저온", "실내 온도 정상 회복"),
    HOT: Kind("CARE0103", "독거노인 가구 실내 고온", "실내 온도 정상 회복"),
    BUTTON: Kind("CARE0104", "독거노인 응급호출", ""),
}


def reference(code: str, kind: str, episode: str) -> str:
    """The 119 request's case number: household, kind and when the episode began (Seoul)."""
    begun = parse_time(episode) or datetime.now(UTC)
    return f"care-{code}-{kind}-{begun.astimezone(SEOUL):%Y%m%d%H%M%S}"


def _local(stored: str) -> str:
    moment = parse_time(stored)
    return f"{moment.astimezone(SEOUL):%Y-%m-%d %H:%M}" if moment else stored


class HouseholdAlerts:
    """Deciding, filing and ending the alerts of one household at a time."""

    def __init__(
        self,
        hub: Hub,
        store: CareStore,
        events: EventService,
        cctv: CctvService,
        linked: LinkedService,
    ) -> None:
        self.hub = hub
        self.store = store
        self.events = events
        self.cctv = cctv
        self.linked = linked

    # --- what is due ---------------------------------------------------------------------

    @staticmethod
    def episodes(home: Household) -> dict[str, str | None]:
        """The current episode of each condition (None: the condition does not hold)."""
        return {
            INACTIVITY: home.last_activity or home.watched_from,  # None: no sensor heard
            COLD: home.cold_since,
            HOT: home.hot_since,
            BUTTON: home.button_at,
        }

    def due(self, home: Household, kind: str, episode: str, now: datetime) -> bool:
        """Whether an episode has lasted long enough to be an emergency at ``now``."""
        begun = parse_time(episode)
        if begun is None:
            return False
        settings = self.hub.settings
        if kind == INACTIVITY:
            hours = home.inactivity_hours or settings.care_inactivity_hours
            night = parse_night(home.night_hours or settings.care_night_hours)
            return awake_deadline(begun, hours, night) <= now
        if kind in (COLD, HOT):
            return begun + timedelta(minutes=settings.care_temp_minutes) <= now
        return True  # the emergency button: at once

    # --- one household -------------------------------------------------------------------

    async def reconcile(
        self, home: Household, now: datetime, open_alerts: list[Alert] | None = None
    ) -> int:
        """End the alerts whose condition is over, file those that are due; how many alerts
        were filed or ended."""
        if not home.located:
            return 0
        if open_alerts is None:
            open_alerts = await self.store.alerts(home.tenant, home.id, open_only=True)
        current = self.episodes(home)
        done = 0
        for alert in open_alerts:
            status = await self._status(alert)
            if alert.kind != BUTTON and current.get(alert.kind) != alert.episode:
                done += await self._end(alert, KINDS[alert.kind].ends, status)
            elif status not in OPEN:
                done += await self._end(alert, f"event {status}", status)
        for kind, episode in current.items():
            if episode is None or not self.due(home, kind, episode, now):
                continue
            latest = await self.store.latest(home.tenant, home.id, kind)
            if latest is not None:
                if max(latest.episode, latest.last_seen) >= episode:
                    continue  # filed for this episode before
                if kind == BUTTON and latest.ended_at is None:
                    await self.store.seen(latest.id, episode)  # pressed again: help is coming
                    continue
            done += await self._file(home, kind, episode)
        return done

    async def _status(self, alert: Alert) -> str:
        try:
            event = await self.events.get(alert.tenant, alert.event_id)
        except ResourceNotFound:
            return "deleted"
        return str(_value(event, "status"))

    # --- filing --------------------------------------------------------------------------

    def _description(self, home: Household, kind: str, episode: str) -> str:
        settings = self.hub.settings
        since = _local(episode)
        if kind == INACTIVITY:
            hours = home.inactivity_hours or settings.care_inactivity_hours
            what = f"{hours:g}시간 이상 활동 미감지 (마지막 활동 {since})"
        elif kind == COLD:
            what = f"실내 {home.temperature}°C, {since}부터 {settings.care_temp_min:g}°C 미만"
        elif kind == HOT:
            what = f"실내 {home.temperature}°C, {since}부터 {settings.care_temp_max:g}°C 초과"
        else:
            what = f"응급호출 버튼 눌림 ({since})"
        return f"독거노인 돌봄가구 {home.code}: {what}"

    async def _file(self, home: Household, kind: str, episode: str) -> int:
        assert home.lon is not None and home.lat is not None
        settings, info = self.hub.settings, KINDS[kind]
        request = LinkedRequest(
            SERVICES["119-dispatch"],
            home.lon,
            home.lat,
            place=home.place or f"돌봄가구 {home.code}",
            description=self._description(home, kind, episode),
            reference=reference(home.code, kind, episode),
            event_code=info.code,
            event_name=info.name,
            minutes=settings.linked_grant_minutes,
        )
        agency = settings.care_119_agency
        filed, new = await self.linked.request(home.tenant, request, agency)
        # an emergency at home, about this household (again after a crash: the same values)
        await patch_event(
            self.hub,
            home.tenant,
            filed.event_id,
            {
                "category": {"type": "Property", "value": "emergencyMedical"},
                "refRelatedEntity": {"type": "Relationship", "object": home.id},
            },
        )
        if new:
            await self._audit_filed(home, kind, filed)
        alert = Alert(
            f"care-{secrets.token_hex(8)}",
            home.tenant,
            home.id,
            kind,
            episode,
            episode,
            filed.id,
            filed.event_id,
            stamp(datetime.now(UTC)),
            None,
            None,
        )
        return 1 if await self.store.add_alert(alert) else 0

    async def _audit_filed(self, home: Household, kind: str, filed: Filed) -> None:
        audit = self.hub.extras.get("audit")
        if audit is None:
            return
        detail = {"request": filed.id, "service": filed.service, "agency": filed.agency}
        await audit.record(
            ACTOR,
            "linked.request",
            target=filed.event_id,
            tenant=home.tenant,
            detail=detail | {"household": home.code, "kind": kind},
        )
        for grant in filed.response.get("grants", []):
            await audit.record(
                ACTOR,
                "cctv.grant",
                target=grant["cameraId"],
                tenant=home.tenant,
                detail=grant_detail(grant, filed.event_id, filed.id),
            )

    # --- ending --------------------------------------------------------------------------

    async def _end(self, alert: Alert, reason: str, status: str) -> int:
        """End an alert (clearing its event when nobody acted on it yet); 1 if this did."""
        if status in OPEN and alert.kind != BUTTON:
            await self._clear(alert, reason, status)
        ended = await self.store.end_alert(alert.id, stamp(datetime.now(UTC)), reason)
        return 1 if ended else 0

    async def _clear(self, alert: Alert, reason: str, status: str) -> None:
        try:
            filed: Filed | None = await self.linked.get(alert.tenant, alert.request_id, None)
        except ResourceNotFound:
            filed = None
        if status != "occurred" or (filed is not None and filed.arrived_at is not None):
            # someone is on it: a responder's motion must not close the case
            note: dict[str, object] = {"type": "Property", "value": now_iso()}
            note["reason"] = {"type": "Property", "value": reason}
            await patch_event(self.hub, alert.tenant, alert.event_id, {"conditionEndedAt": note})
            return
        with contextlib.suppress(Conflict):  # closed meanwhile
            await self.events.transition(alert.tenant, alert.event_id, "cleared", ACTOR, reason)
        audit = self.hub.extras.get("audit")
        for grant in filed.response.get("grants", []) if filed is not None else []:
            try:
                await self.cctv.revoke(alert.tenant, grant["id"], ACTOR)
            except (Conflict, ResourceNotFound):
                continue  # expired or revoked already
            if audit is not None:
                await audit.record(
                    ACTOR,
                    "cctv.revoke",
                    target=grant["cameraId"],
                    tenant=alert.tenant,
                    detail={"grant": grant["id"], "event": alert.event_id, "reason": reason},
                )
