"""The device registry's tables (migrations ``0007_iot.sql``) on either backend.

Both backends run the same SQL (``?`` placeholders, numbered for PostgreSQL); documents are
kept as JSON text as provisioned.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql, Statement


def _doc(raw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(raw)
    return doc


def _text(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def _path_clause(service_path: str | None) -> tuple[str, tuple[Any, ...]]:
    """Rows of one service path, or of every one (None, or the IoT Agent's ``/*``)."""
    if service_path is None or service_path == "/*":
        return "", ()
    return " AND service_path = ?", (service_path,)


class IotStore:
    """Service groups and devices of every tenant."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)
        self.on_change: list[Callable[[], None]] = []  # told after every registry write

    async def _change(
        self, statements: list[Statement], *, conflict: str | None = None
    ) -> list[int]:
        counts = await self.db.run(statements, conflict=conflict)
        for listener in self.on_change:
            listener()
        return counts

    async def _page(
        self, table: str, order: str, tenant: str, path: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = _path_clause(path)
        count = await self.db.rows(
            f"SELECT count(*) FROM {table} WHERE tenant = ?{where}", tenant, *args
        )
        rows = await self.db.rows(
            f"SELECT doc FROM {table} WHERE tenant = ?{where} ORDER BY {order} LIMIT ? OFFSET ?",
            tenant,
            *args,
            limit,
            offset,
        )
        return [_doc(r[0]) for r in rows], int(count[0][0])

    # --- service groups -----------------------------------------------------------------

    async def add_groups(self, tenant: str, path: str, groups: list[dict[str, Any]]) -> None:
        """Provision groups, all or none (AlreadyExists if an apikey+resource is taken)."""
        sql = "INSERT INTO iot_groups VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        await self._change(
            [(sql, (tenant, g["apikey"], g["resource"], path, _text(g))) for g in groups],
            conflict="a service group with this apikey and resource already exists",
        )

    async def groups(
        self, tenant: str, path: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a tenant's groups (of one service path), and how many there are."""
        return await self._page("iot_groups", "apikey, resource", tenant, path, limit, offset)

    async def group(self, tenant: str, apikey: str, resource: str | None) -> dict[str, Any] | None:
        """The group of an API key (and resource, when given: else the first of the key)."""
        if resource is None:
            rows = await self.db.rows(
                "SELECT doc FROM iot_groups WHERE tenant = ? AND apikey = ? ORDER BY resource",
                tenant,
                apikey,
            )
        else:
            rows = await self.db.rows(
                "SELECT doc FROM iot_groups WHERE tenant = ? AND apikey = ? AND resource = ?",
                tenant,
                apikey,
                resource,
            )
        return _doc(rows[0][0]) if rows else None

    async def tenant_of_key(self, apikey: str) -> tuple[str, str] | None:
        """The tenant and service path of an API key (MQTT topics carry only the key)."""
        rows = await self.db.rows(
            "SELECT tenant, service_path FROM iot_groups WHERE apikey = ? "
            "ORDER BY tenant, resource LIMIT 1",
            apikey,
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def replace_group(self, tenant: str, doc: dict[str, Any]) -> bool:
        """Store a changed group (same apikey and resource); False if there is none."""
        sql = "UPDATE iot_groups SET doc = ? WHERE tenant = ? AND apikey = ? AND resource = ?"
        counts = await self._change([(sql, (_text(doc), tenant, doc["apikey"], doc["resource"]))])
        return counts[0] == 1

    async def delete_group(self, tenant: str, apikey: str, resource: str) -> bool:
        """Forget a group; False if there is none."""
        sql = "DELETE FROM iot_groups WHERE tenant = ? AND apikey = ? AND resource = ?"
        return (await self._change([(sql, (tenant, apikey, resource))]))[0] == 1

    # --- devices ------------------------------------------------------------------------

    async def add_devices(self, tenant: str, path: str, devices: list[dict[str, Any]]) -> None:
        """Provision devices, all or none (AlreadyExists if a device id is taken)."""
        sql = "INSERT INTO iot_devices VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        await self._change(
            [(sql, (tenant, d["device_id"], path, _text(d))) for d in devices],
            conflict="a device with this device_id already exists",
        )

    async def devices(
        self, tenant: str, path: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a tenant's devices (of one service path), and how many there are."""
        return await self._page("iot_devices", "device_id", tenant, path, limit, offset)

    async def device(self, tenant: str, device_id: str) -> dict[str, Any] | None:
        """One device by id."""
        rows = await self.db.rows(
            "SELECT doc FROM iot_devices WHERE tenant = ? AND device_id = ?", tenant, device_id
        )
        return _doc(rows[0][0]) if rows else None

    async def replace_device(self, tenant: str, doc: dict[str, Any]) -> bool:
        """Store a changed device; False if there is none."""
        sql = "UPDATE iot_devices SET doc = ? WHERE tenant = ? AND device_id = ?"
        return (await self._change([(sql, (_text(doc), tenant, doc["device_id"]))]))[0] == 1

    async def delete_device(self, tenant: str, device_id: str) -> bool:
        """Forget a device; False if there is none."""
        sql = "DELETE FROM iot_devices WHERE tenant = ? AND device_id = ?"
        return (await self._change([(sql, (tenant, device_id))]))[0] == 1


@dataclass(frozen=True, slots=True)
class Rejected:
    """A measure message that could not be taken, as received, with why."""

    tenant: str
    service_path: str
    source: str  # http or mqtt
    resource: str  # /iot/json, /iot/d or the MQTT topic
    apikey: str
    device_id: str
    format: str  # json or ul
    payload: bytes
    reason: str
    error: str  # NGSI-LD error type name
    received_at: str
    id: int = 0

    def json(self) -> dict[str, Any]:
        """The API form (payload as text, or base64 when it is not UTF-8)."""
        try:
            payload: dict[str, str] = {"text": self.payload.decode("utf-8")}
        except UnicodeDecodeError:
            payload = {"base64": base64.b64encode(self.payload).decode()}
        return {
            "id": self.id,
            "source": self.source,
            "resource": self.resource,
            "apikey": self.apikey,
            "device_id": self.device_id,
            "service_path": self.service_path,
            "format": self.format,
            "payload": payload,
            "reason": self.reason,
            "error": self.error,
            "receivedAt": self.received_at,
        }


_REJECTED_COLUMNS = (
    "tenant, service_path, source, resource, apikey, device_id, format, payload, reason, error, "
    "received_at, id"
)


def _rejected(row: tuple[Any, ...]) -> Rejected:
    t, path, source, resource, apikey, device, fmt, payload, reason, error, at, ident = row
    return Rejected(
        t, path, source, resource, apikey, device, fmt, bytes(payload), reason, error, at, ident
    )


class RejectedStore:
    """The dead letters of ingest."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    async def add(self, r: Rejected) -> None:
        """Keep a rejected message."""
        columns = _REJECTED_COLUMNS.removesuffix(", id")
        sql = f"INSERT INTO iot_rejected ({columns}) VALUES ({', '.join('?' * 11)})"
        args = (r.tenant, r.service_path, r.source, r.resource, r.apikey, r.device_id)
        await self.db.run([(sql, (*args, r.format, r.payload, r.reason, r.error, r.received_at))])

    async def page(
        self, tenant: str, device_id: str | None, limit: int, offset: int
    ) -> tuple[list[Rejected], int]:
        """A tenant's rejected messages (of one device), oldest first, and how many."""
        where = " AND device_id = ?" if device_id else ""
        args = (tenant, device_id) if device_id else (tenant,)
        count = await self.db.rows(
            f"SELECT count(*) FROM iot_rejected WHERE tenant = ?{where}", *args
        )
        rows = await self.db.rows(
            f"SELECT {_REJECTED_COLUMNS} FROM iot_rejected WHERE tenant = ?{where} "
            "ORDER BY id LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        return [_rejected(r) for r in rows], int(count[0][0])

    async def get(self, tenant: str, ident: int) -> Rejected | None:
        """One rejected message."""
        rows = await self.db.rows(
            f"SELECT {_REJECTED_COLUMNS} FROM iot_rejected WHERE tenant = ? AND id = ?",
            tenant,
            ident,
        )
        return _rejected(rows[0]) if rows else None

    async def delete(self, tenant: str, ident: int) -> bool:
        """Discard one; False if there is none."""
        sql = "DELETE FROM iot_rejected WHERE tenant = ? AND id = ?"
        return (await self.db.run([(sql, (tenant, ident))]))[0] == 1

    async def counts(self, tenant: str) -> list[dict[str, Any]]:
        """How many rejected messages per device and error type."""
        rows = await self.db.rows(
            "SELECT device_id, error, count(*) FROM iot_rejected WHERE tenant = ? "
            "GROUP BY device_id, error ORDER BY device_id, error",
            tenant,
        )
        return [{"device_id": r[0], "error": r[1], "count": int(r[2])} for r in rows]
