"""Enforcement notices by SMS (주정차 단속 알림): to the phone opted in for the plate
(phones.py), naming the nearest lot with free spaces (lots.py), through the operations
center's SMS gateway (``sms_gateway`` setting). At most one per case: the case records what
became of it (``sent``, ``failed``, ``noPhone``; ``off`` when none is due)."""

from __future__ import annotations

import logging
from typing import Any

from cityhub.ngsild.hub import Hub
from cityhub.ops.actions import SmsGateway
from cityhub.services.parking.enforcement_store import Case, CaseStore
from cityhub.services.parking.lots import nearest_free_lots
from cityhub.services.parking.phones import PhoneRegistry, mask_phone

log = logging.getLogger(__name__)


class Notifier:
    """Sends a case's notice and records it on the case."""

    def __init__(self, hub: Hub, store: CaseStore, phones: PhoneRegistry, sms: SmsGateway) -> None:
        self.hub = hub
        self.store = store
        self.phones = phones
        self.sms = sms

    async def send(self, tenant: str, case: Case, immediate: bool) -> dict[str, Any]:
        """Send the plate's opted-in phone the notice, naming the nearest free lot; what
        became of it (the number masked)."""
        found = await self.phones.get(tenant, case.plate)
        if found is None:
            await self.store.set_notice(case.id, "noPhone", None, None)
            return {"status": "noPhone"}
        lots = await nearest_free_lots(
            self.hub, tenant, case.lon, case.lat, limit=1,
            max_distance=self.hub.settings.parking_notice_lot_m,
        )  # fmt: skip
        lot = None
        if lots:
            lot = {k: lots[0][k] for k in ("id", "name", "distance", "availableSpotNumber")}
        text = notice_text(case, lot, immediate)
        try:
            await self.sms.send([found.phone], text)
            status = "sent"
        except Exception:  # noqa: BLE001 - any gateway failure: the case goes on without it
            log.exception("notice for parking case %s not sent", case.id)
            status = "failed"
        to = mask_phone(found.phone)
        await self.store.set_notice(case.id, status, to, lot)
        return {"status": status, "to": to, "lot": lot, "text": text}

    async def skip(self, case: Case) -> dict[str, Any]:
        """No notice is due for the case (an immediate zone)."""
        await self.store.set_notice(case.id, "off", None, None)
        return {"status": "off"}


def notice_text(case: Case, lot: dict[str, Any] | None, immediate: bool) -> str:
    """The SMS: where the car is, what happens, and the nearest lot with free spaces."""
    zone = case.zone
    if immediate:
        text = (
            f"[주정차 단속 알림] {case.plate} 차량이 {zone['name']}(즉시 단속 구역)에서 "
            f"단속되었습니다(과태료 {zone['fine']:,}원). 즉시 이동해 주세요."
        )
    else:
        text = (
            f"[주정차 단속 예고] {case.plate} 차량이 {zone['name']}(주정차 금지 구역)에 "
            f"있습니다. {zone['graceMinutes']:g}분 안에 이동하지 않으면 과태료 "
            f"{zone['fine']:,}원이 부과됩니다."
        )
    if lot is not None:
        name = lot["name"] or "주차장"
        text += (
            f" 가까운 주차장: {name} (약 {lot['distance']:.0f} m, "
            f"빈자리 {lot['availableSpotNumber']}면)"
        )
    return text
