"""Dry run: replay a rule over recorded history and say which events it would have raised
and cleared, writing nothing.

The history of every entity of the watched types between ``from`` and ``to`` is read from the
temporal store and turned back into changes (one per entity and instant, the entity as it stood
then), in time order. They go through the same :class:`Engine` as live changes, with the state
rows in memory, and the periodic check runs at each instant in between (so a ``for`` that
elapsed with no new measure fires at the time it elapsed). The replay starts knowing nothing
at ``from``; a composite rule is replayed with the rules it refers to; ``near`` places are
where they are now.
"""

from __future__ import annotations

import copy
from typing import Any

from cityhub.bus import CREATE, UPDATE, Change
from cityhub.errors import BadRequestData
from cityhub.ops.rules.engine import Action, Engine, Key, Plan, State
from cityhub.ops.rules.model import COMPOSITE, Rule
from cityhub.temporal.model import BETWEEN, DELETED_AT, TimeFilter, iso

MAX_INSTANCES = 200_000  # history one dry run may replay


async def dry_run(service: Any, temporal: Any, rule: Rule, start: int, end: int) -> dict[str, Any]:
    """The events ``rule`` would have raised and cleared between ``start`` and ``end`` (µs)."""
    involved = {rule.id: rule}
    if rule.kind == COMPOSITE:
        mine = service.rules.get(rule.tenant, {})
        for ref in rule.refs:
            if ref in mine:
                involved[ref] = mine[ref]
    await temporal.settle()
    changes: list[tuple[int, Change]] = []
    for kind in {r.entity_type for r in involved.values() if r.kind != COMPOSITE}:
        changes.extend(await _history(temporal.store, rule.tenant, kind, start, end))
    changes.sort(key=lambda item: item[0])
    near = {(r.tenant, r.near.entity_type) for r in involved.values() if r.near is not None}
    for tenant, kind in near:
        await service.places(tenant, kind)
    engine = Engine({rule.tenant: involved}, service.place_geometries)
    states: dict[Key, State] = {}
    actions: list[Action] = []

    def step(work: Any) -> None:
        plan = Plan(states)
        work(plan)
        for key, s in plan.changed.items():
            if s is None:
                states.pop(key, None)
            else:
                states[key] = s
        actions.extend(plan.actions)

    def tick(now: int) -> None:
        due = [k for k, s in states.items() if s.due is not None and s.due <= now]
        if due:
            step(lambda plan: engine.tick(due, now, plan))

    for at, change in changes:
        tick(at)
        step(lambda plan, change=change: engine.on_changes([change], plan))
    tick(end)
    return {
        "rule": rule.id,
        "from": iso(start),
        "to": iso(end),
        "changes": len(changes),
        "events": [_shown(a) for a in actions if a.rule_id == rule.id],
    }


def _shown(action: Action) -> dict[str, Any]:
    out: dict[str, Any] = {
        "at": iso(action.at),
        "action": action.op,
        "dedupeKey": action.body.get("dedupeKey"),
    }
    related = action.body.get("related")
    if related:
        out["entityId"] = related[0]
    if action.op == "raise":
        out["eventCode"] = action.body.get("eventCode")
        since = [i["val"] for i in action.body.get("items", []) if i.get("key") == "since"]
        if since:
            out["since"] = since[0]
    else:
        out["reason"] = action.body.get("reason", "")
    return out


async def _history(
    store: Any, tenant: str, kind: str, start: int, end: int
) -> list[tuple[int, Change]]:
    """The changes the recorded history of the entities of ``kind`` stands for."""
    rows = [r for r in await store.entities(tenant, None) if kind in r.types]
    if not rows:
        return []
    series = await store.series(tenant, [r.entity_id for r in rows], None)
    tf = TimeFilter(timerel=BETWEEN, time_at=start, end_time_at=end)
    found = await store.instances([s.sid for s in series], tf, MAX_INSTANCES + 1, False)
    if sum(len(v) for v in found.values()) > MAX_INSTANCES:
        raise BadRequestData(
            f"dry run: more than {MAX_INSTANCES} recorded instances; choose a shorter from/to"
        )
    by_entity: dict[str, list[tuple[int, Any, dict[str, Any]]]] = {}
    for s in series:
        for stored in found.get(s.sid, []):
            by_entity.setdefault(s.entity_id, []).append((stored.time, s, stored.doc))
    out: list[tuple[int, Change]] = []
    for row in rows:
        entity: dict[str, Any] = {"id": row.entity_id, "type": list(row.types), "attrs": {}}
        instants: dict[int, list[tuple[Any, dict[str, Any]]]] = {}
        for at, s, doc in by_entity.get(row.entity_id, []):
            instants.setdefault(at, []).append((s, doc))
        first = True
        for at in sorted(instants):
            prev: dict[str, list[dict[str, Any]]] = {}
            for s, doc in instants[at]:
                slots = entity["attrs"].setdefault(s.attr, [])
                prev.setdefault(s.attr, copy.deepcopy(slots))
                kept = [i for i in slots if i.get("datasetId", "") != s.dataset]
                if DELETED_AT not in doc:
                    inst = dict(doc)
                    if s.dataset:
                        inst["datasetId"] = s.dataset
                    kept.append(inst)
                entity["attrs"][s.attr] = kept
                if not kept:
                    del entity["attrs"][s.attr]
            change = Change(
                0,
                tenant,
                row.entity_id,
                CREATE if first else UPDATE,
                iso(at),
                copy.deepcopy(entity),
                prev,
            )
            out.append((at, change))
            first = False
    return out
