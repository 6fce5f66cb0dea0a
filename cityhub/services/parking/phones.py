"""The opt-in registry of phones for illegal-parking pre-notices (주정차 단속 알림 서비스).

A driver registers a mobile number for a plate with explicit consent; the first sighting of
the plate in a two-sighting zone then sends that number a notice to move the car. Personal
data, kept minimal: the plate, the number, who registered it and when (no name, no consent
text: consent is required to register, and opting out deletes the row). Numbers leave the hub
masked (``010-****-5678``), in answers and in the audit log alike; only the SMS gateway sees
them whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

#: Korean mobile numbers (SMS only reaches these): 010, and the old 011/016/017/018/019
_MOBILE = re.compile(r"^01[016789][0-9]{7,8}$")
_SEPARATORS = re.compile(r"[\s\-.()]")


def normalise_phone(raw: Any, where: str = "phone") -> str:
    """A Korean mobile number as 010-1234-5678 (from 01012345678, +82 10-1234-5678, ...)."""
    if not isinstance(raw, str):
        raise BadRequestData(f"{where} must be a mobile number like 010-1234-5678")
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+82"):
        digits = "0" + digits[3:].lstrip("0")
    if not _MOBILE.match(digits):
        raise BadRequestData(
            f"{where} must be a Korean mobile number like 010-1234-5678 (SMS cannot reach "
            f"other numbers), not {raw!r}"
        )
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def mask_phone(phone: str) -> str:
    """010-1234-5678 → 010-****-5678."""
    head, middle, tail = phone.split("-")
    return f"{head}-{'*' * len(middle)}-{tail}"


@dataclass(frozen=True, slots=True)
class Registration:
    """A phone opted in for a plate."""

    plate: str
    phone: str
    registered_by: str
    registered_at: str

    def json(self) -> dict[str, Any]:
        """The API form: the number masked."""
        return {
            "plate": self.plate,
            "phone": mask_phone(self.phone),
            "registeredBy": self.registered_by,
            "registeredAt": self.registered_at,
        }


_COLUMNS = "plate, phone, registered_by, registered_at"


class PhoneRegistry:
    """Registrations by tenant and plate (table ``parking_phones``)."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    async def get(self, tenant: str, plate: str) -> Registration | None:
        """The registration of a plate."""
        rows = await self.db.rows(
            f"SELECT {_COLUMNS} FROM parking_phones WHERE tenant = ? AND plate = ?",
            tenant,
            plate,
        )
        return Registration(*rows[0]) if rows else None

    async def put(
        self, tenant: str, plate: str, phone: str, actor: str
    ) -> tuple[bool, Registration]:
        """Register (or change) the phone of a plate; (True when the plate had none, the
        registration)."""
        found = Registration(plate, phone, actor, now_iso())
        before = await self.get(tenant, plate)
        await self.db.run(
            [
                (
                    f"INSERT INTO parking_phones (tenant, {_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (tenant, plate) DO UPDATE SET phone = excluded.phone, "
                    "registered_by = excluded.registered_by, "
                    "registered_at = excluded.registered_at",
                    (tenant, plate, phone, actor, found.registered_at),
                )
            ]
        )
        return before is None, found

    async def delete(self, tenant: str, plate: str) -> bool:
        """Opt out: forget the plate's phone (False when it had none)."""
        counts = await self.db.run(
            [("DELETE FROM parking_phones WHERE tenant = ? AND plate = ?", (tenant, plate))]
        )
        return counts[0] > 0

    async def list(
        self, tenant: str, *, plate: str | None = None, registered_by: str | None = None
    ) -> list[Registration]:
        """Registrations, by plate."""
        terms, args = ["tenant = ?"], [tenant]
        if plate is not None:
            terms.append("plate = ?")
            args.append(plate)
        if registered_by is not None:
            terms.append("registered_by = ?")
            args.append(registered_by)
        rows = await self.db.rows(
            f"SELECT {_COLUMNS} FROM parking_phones WHERE {' AND '.join(terms)} "
            "ORDER BY plate LIMIT 10000",
            *args,
        )
        return [Registration(*r) for r in rows]
