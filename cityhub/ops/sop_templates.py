"""SOP templates (표준운영절차): what to do, in order, for a kind of situation event.

A template is JSON::

    {"id": "119-dispatch", "name": "119 긴급출동 지원",
     "match": {"eventCodes": [...], "categories": [...], "linkedServices": [...]},
     "steps": [{"id": "find-cctv", "title": "...", "role": "system",
                "dueMinutes": 2, "auto": {"kind": "nearestCctv", "count": 5}}, ...]}

An event matches a template when its ``eventCode``, its ``category`` or its ``linkedService``
is listed (any one is enough); an empty ``match`` is started only by name. ``role`` is a
built-in role name (cityhub/auth/model.py) or ``system`` for automatic steps; ``auto`` is an
action (cityhub/ops/actions.py). Built-in templates ship as JSON files in ``ops/sops/``; a
tenant's own templates live in ``sop_templates`` (migration 0015) and override a built-in of
the same id, which comes back when the tenant's template is deleted.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import orjson

from cityhub.auth.model import ROLES
from cityhub.errors import BadRequestData, Conflict, ResourceNotFound
from cityhub.ngsild.models import now_iso
from cityhub.ops.actions import check_action
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

SYSTEM_ROLE = "system"
ROLE_NAMES = (*ROLES, SYSTEM_ROLE)
MATCH_KEYS = ("eventCodes", "categories", "linkedServices")
#: the order built-ins are tried in: the five linked services, then kinds of hazard
BUILTIN_ORDER = (
    "112-video",
    "112-dispatch",
    "119-dispatch",
    "disaster",
    "vulnerable",
    "fire",
    "flood",
    "fine-dust",
    "missing-person",
    "facility-alarm",
)
RESERVED = frozenset(("overdue",))  # path segments under /cityhub/v1/sops
_ID = re.compile(r"^[a-z0-9-]{1,64}$")
_TEMPLATE_KEYS = {"id", "name", "description", "match", "steps"}
_READ_ONLY = {"builtin", "overridesBuiltin", "updatedAt", "updatedBy"}  # as GET shows them
_STEP_KEYS = {"id", "title", "role", "dueMinutes", "auto", "description"}
_MAX_STEPS = 100
_MAX_DUE_MINUTES = 7 * 24 * 60


def check_id(value: Any, where: str = "id") -> str:
    """A template or step id: 1-64 of a-z, 0-9 and ``-`` (BadRequestData otherwise)."""
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequestData(f"{where} must be 1-64 characters of a-z, 0-9 and -, not {value!r}")
    return value


def _text(body: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise BadRequestData(f"{where} must be a text of 1-500 characters")
    return value


def check_template(body: Any, template_id: str | None = None) -> dict[str, Any]:
    """A valid template in its stored form, or BadRequestData naming the bad member.
    ``template_id``: the id from the path (the body's, if it has one, must agree)."""
    if not isinstance(body, dict):
        raise BadRequestData("an SOP template is a JSON object with id, name, match and steps")
    unknown = sorted(set(body) - _TEMPLATE_KEYS - _READ_ONLY)
    if unknown:
        raise BadRequestData(f"unknown members in an SOP template: {', '.join(unknown)}")
    given = body.get("id", template_id)
    tid = check_id(given, "id")
    if template_id is not None and tid != template_id:
        raise BadRequestData(f"id {tid!r} in the body differs from {template_id!r} in the path")
    if tid in RESERVED:
        raise BadRequestData(f"id {tid!r} is reserved")
    doc: dict[str, Any] = {"id": tid, "name": _text(body, "name", "name")}
    description = _text(body, "description", "description", required=False)
    if description is not None:
        doc["description"] = description
    doc["match"] = _check_match(body.get("match", {}))
    steps = body.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= _MAX_STEPS:
        raise BadRequestData(f"steps must be a list of 1-{_MAX_STEPS} steps")
    seen: set[str] = set()
    doc["steps"] = []
    for i, step in enumerate(steps):
        checked = _check_step(step, f"steps[{i}]")
        if checked["id"] in seen:
            raise BadRequestData(f"steps[{i}].id {checked['id']!r} is used by an earlier step")
        seen.add(checked["id"])
        doc["steps"].append(checked)
    return doc


def _check_match(match: Any) -> dict[str, list[str]]:
    if not isinstance(match, dict):
        raise BadRequestData(f"match must be an object with {', '.join(MATCH_KEYS)}")
    unknown = sorted(set(match) - set(MATCH_KEYS))
    if unknown:
        raise BadRequestData(f"unknown members in match: {', '.join(unknown)}")
    found: dict[str, list[str]] = {}
    for key in MATCH_KEYS:
        values = match.get(key, [])
        if (
            not isinstance(values, list)
            or len(values) > 100
            or not all(isinstance(v, str) and v for v in values)
        ):
            raise BadRequestData(f"match.{key} must be a list of (at most 100) texts")
        if values:
            found[key] = list(dict.fromkeys(values))
    return found


def _check_step(step: Any, where: str) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise BadRequestData(f"{where} must be an object with id, title and role")
    unknown = sorted(set(step) - _STEP_KEYS)
    if unknown:
        raise BadRequestData(f"unknown members in {where}: {', '.join(unknown)}")
    found: dict[str, Any] = {
        "id": check_id(step.get("id"), f"{where}.id"),
        "title": _text(step, "title", f"{where}.title"),
    }
    role = step.get("role")
    if role not in ROLE_NAMES:
        raise BadRequestData(f"{where}.role must be one of {', '.join(ROLE_NAMES)}, not {role!r}")
    if role == SYSTEM_ROLE and "auto" not in step:
        raise BadRequestData(f"{where}.role is system, but the step has no auto action")
    found["role"] = role
    description = _text(step, "description", f"{where}.description", required=False)
    if description is not None:
        found["description"] = description
    if "dueMinutes" in step:
        due = step["dueMinutes"]
        if (
            not isinstance(due, int | float)
            or isinstance(due, bool)
            or not 0 < due <= _MAX_DUE_MINUTES
        ):
            raise BadRequestData(
                f"{where}.dueMinutes must be a number more than 0 and at most {_MAX_DUE_MINUTES}"
            )
        found["dueMinutes"] = due
    if "auto" in step:
        found["auto"] = check_action(step["auto"], f"{where}.auto")
    return found


def matches(template: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Does an event (keyValues form) match the template's ``match``?"""
    match = template.get("match", {})
    return (
        fields.get("eventCode") in match.get("eventCodes", ())
        or fields.get("category") in match.get("categories", ())
        or fields.get("linkedService") in match.get("linkedServices", ())
    )


@functools.cache
def builtins() -> dict[str, dict[str, Any]]:
    """The built-in templates by id, in the order they are tried (read once)."""
    folder = resources.files("cityhub.ops").joinpath("sops")
    found: dict[str, dict[str, Any]] = {}
    for item in folder.iterdir():
        if item.name.endswith(".json"):
            doc = check_template(orjson.loads(item.read_bytes()))
            found[doc["id"]] = doc
    rank = {tid: i for i, tid in enumerate(BUILTIN_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


class TemplateStore:
    """Built-in templates and each tenant's own."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    async def _own(self, tenant: str) -> dict[str, dict[str, Any]]:
        rows = await self.db.rows(
            "SELECT id, doc, updated_at, updated_by FROM sop_templates WHERE tenant = ? "
            "ORDER BY id",
            tenant,
        )
        return {
            tid: orjson.loads(doc) | {"updatedAt": at, "updatedBy": by} for tid, doc, at, by in rows
        }

    async def every(self, tenant: str) -> list[dict[str, Any]]:
        """Every template of the tenant in the order they are tried: the tenant's own new
        ones by id, then the built-ins, each replaced by the tenant's override if any."""
        own, base = await self._own(tenant), builtins()
        found = [t | {"builtin": False} for tid, t in own.items() if tid not in base]
        for tid, doc in base.items():
            if tid in own:
                found.append(own[tid] | {"builtin": False, "overridesBuiltin": True})
            else:
                found.append(doc | {"builtin": True})
        return found

    async def get(self, tenant: str, template_id: str) -> dict[str, Any]:
        """One template (ResourceNotFound if the tenant has none of that id)."""
        for template in await self.every(tenant):
            if template["id"] == template_id:
                return template
        raise ResourceNotFound(f"no SOP template {template_id}")

    async def first_match(self, tenant: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The first template the event (keyValues form) matches, if any."""
        for template in await self.every(tenant):
            if matches(template, fields):
                return template
        return None

    async def put(self, tenant: str, doc: dict[str, Any], actor: str) -> bool:
        """Store a tenant's template (validated by :func:`check_template`); True if the
        tenant had no template of that id before (not counting built-ins)."""
        own = await self._own(tenant)
        body = orjson.dumps(doc).decode()
        await self.db.run(
            [
                (
                    "INSERT INTO sop_templates (tenant, id, doc, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
                    "doc = excluded.doc, updated_at = excluded.updated_at, "
                    "updated_by = excluded.updated_by",
                    (tenant, doc["id"], body, now_iso(), actor),
                )
            ]
        )
        return doc["id"] not in own

    async def delete(self, tenant: str, template_id: str) -> None:
        """Delete a tenant's template (a built-in it overrode is in force again); Conflict
        for a built-in, ResourceNotFound for an unknown id."""
        (count,) = await self.db.run(
            [
                (
                    "DELETE FROM sop_templates WHERE tenant = ? AND id = ?",
                    (tenant, template_id),
                )
            ]
        )
        if count:
            return
        if template_id in builtins():
            raise Conflict(
                f"SOP template {template_id} is built in and cannot be deleted; PUT one of "
                "the same id to override it"
            )
        raise ResourceNotFound(f"no SOP template {template_id}")
