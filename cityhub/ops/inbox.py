"""Agency inboxes: short messages the operations center leaves for an agency account.

An automatic SOP step ``{"kind": "notify", "agency": "fire119"}`` puts a message here (table
``agency_inbox``, migration 0015); the agency reads its own messages at
``GET /cityhub/v1/inbox``, the center's staff read any agency's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

_COLUMNS = "id, tenant, agency, event_id, text, sent_by, sent_at"


@dataclass(frozen=True, slots=True)
class Message:
    """One message for one agency about one event."""

    id: str
    tenant: str
    agency: str
    event_id: str
    text: str
    sent_by: str
    sent_at: str

    def json(self) -> dict[str, Any]:
        """The API form."""
        return {
            "id": self.id,
            "agency": self.agency,
            "eventId": self.event_id,
            "text": self.text,
            "sentBy": self.sent_by,
            "sentAt": self.sent_at,
        }


class Inbox:
    """Messages for agencies, per tenant."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    async def post(self, tenant: str, agency: str, event_id: str, text: str, by: str) -> Message:
        """Leave a message for ``agency``."""
        message = Message(
            f"msg-{secrets.token_hex(8)}", tenant, agency, event_id, text, by, now_iso()
        )
        await self.db.run(
            [
                (
                    f"INSERT INTO agency_inbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        message.id,
                        tenant,
                        agency,
                        event_id,
                        text,
                        by,
                        message.sent_at,
                    ),
                )
            ]
        )
        return message

    async def messages(
        self, tenant: str, agency: str | None, *, limit: int = 100, offset: int = 0
    ) -> list[Message]:
        """The tenant's messages (of one agency only, when given), newest first."""
        sql = f"SELECT {_COLUMNS} FROM agency_inbox WHERE tenant = ?"
        args: list[Any] = [tenant]
        if agency is not None:
            sql += " AND agency = ?"
            args.append(agency)
        sql += " ORDER BY sent_at DESC, id LIMIT ? OFFSET ?"
        rows = await self.db.rows(sql, *args, limit, offset)
        return [Message(*row) for row in rows]
