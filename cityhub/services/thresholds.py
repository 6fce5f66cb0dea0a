"""Per-tenant threshold tables of city services: the defaults a service documents, replaced by
the table a city calibrated (table ``service_thresholds``, migration 0018).

A service names its table (``facility``, ``electrical``), gives its defaults and a check that
turns a body into the stored form or raises BadRequestData naming the bad member. Reads are
cached per worker for ``_FRESH_S`` seconds (a change made in this worker is seen at once, one
made in another worker within that time), since the services read them on every reading.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

_FRESH_S = 2.0

Check = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A tenant's table in force: its own (``custom``) or the defaults."""

    doc: dict[str, Any]
    custom: bool
    updated_at: str | None = None
    updated_by: str | None = None

    def json(self) -> dict[str, Any]:
        """As the thresholds API shows it."""
        body: dict[str, Any] = {"thresholds": self.doc, "custom": self.custom}
        if self.custom:
            body |= {"updatedAt": self.updated_at, "updatedBy": self.updated_by}
        return body


class ThresholdStore:
    """One service's threshold tables, per tenant."""

    def __init__(
        self, storage: Storage, service: str, defaults: dict[str, Any], check: Check
    ) -> None:
        self.db = PlainSql(storage)
        self.service = service
        self.defaults = check(defaults)  # a broken default table fails the start
        self.check = check
        self._cache: dict[str, tuple[float, Thresholds]] = {}

    async def get(self, tenant: str) -> Thresholds:
        """The table in force in ``tenant`` (a copy the caller may keep)."""
        cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < _FRESH_S:
            return cached[1]
        rows = await self.db.rows(
            "SELECT doc, updated_at, updated_by FROM service_thresholds "
            "WHERE tenant = ? AND service = ?",
            tenant,
            self.service,
        )
        if rows:
            doc, at, by = rows[0]
            found = Thresholds(orjson.loads(doc), True, at, by)
        else:
            found = Thresholds(copy.deepcopy(self.defaults), False)
        self._cache[tenant] = (time.monotonic(), found)
        return found

    async def put(self, tenant: str, body: Any, actor: str) -> Thresholds:
        """Check and store a tenant's own table (BadRequestData naming a bad member)."""
        doc = self.check(body)
        await self.db.run(
            [
                (
                    "INSERT INTO service_thresholds (tenant, service, doc, updated_at, "
                    "updated_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, service) DO UPDATE "
                    "SET doc = excluded.doc, updated_at = excluded.updated_at, "
                    "updated_by = excluded.updated_by",
                    (tenant, self.service, orjson.dumps(doc).decode(), now_iso(), actor),
                )
            ]
        )
        self._cache.pop(tenant, None)
        return await self.get(tenant)

    async def reset(self, tenant: str) -> bool:
        """Go back to the defaults; False when the tenant had no table of its own."""
        (count,) = await self.db.run(
            [
                (
                    "DELETE FROM service_thresholds WHERE tenant = ? AND service = ?",
                    (tenant, self.service),
                )
            ]
        )
        self._cache.pop(tenant, None)
        return count > 0
