"""The rules feature at run time: the rules cache, the ``rules`` change-log consumer, the
periodic check and the event actions.

- Rules are read from the store into a cache of compiled rules; a change through the API
  reloads it at once, and every worker compares the store's version every 2 s (as the
  subscriptions matcher does), so another worker's change takes effect within ~2 s.
- :meth:`RulesService.handle` is the durable consumer ``rules``: every entity change is
  evaluated against the rules watching its type, and the new state is written with the cursor
  move (:meth:`RuleStore.step`).
- :meth:`RulesService.check` is the periodic check (every few seconds): a ``for``, a dwell or
  an absence that elapsed with no new change fires, windows expire.
- Actions (raise or clear an event) are done through :class:`EventService` right after the
  transaction that decided them; a worker that stopped before leaves them to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cityhub.bus import DELETE, Change
from cityhub.bus.feed import ChangeFeed
from cityhub.errors import (
    BadRequestData,
    CityhubError,
    Conflict,
    NonexistentTenant,
    ResourceNotFound,
)
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import EventService, EventSpec
from cityhub.ops.rules.engine import LOCATION, RAISE, SUMMARY, WHOLE, Action, Engine
from cityhub.ops.rules.model import COMPOSITE, Rule, compile_rule
from cityhub.ops.rules.store import RuleStore, StoredRule
from cityhub.temporal.model import iso, to_micros

log = logging.getLogger(__name__)

CONSUMER = "rules"
WATCH_S = 2.0  # how often a worker looks for other workers' rule changes
CHECK_S = 5.0  # how often the periodic check runs
_PLACES_FRESH_S = 2.0
_PLACES_MAX = 50_000
#: what a rule's evaluation depends on: changing anything else keeps its "holding since"
_DISPLAY = ("name", "description", "enabled", "event")


class RulesService:
    """Rules of every tenant, evaluated on the change stream (``hub.extras["rules"]``)."""

    def __init__(self, hub: Hub, events: EventService) -> None:
        self.hub = hub
        self.events = events
        self.store = RuleStore(hub.storage)
        self.core = hub.contexts.core
        self.rules: dict[str, dict[str, Rule]] = {}
        self.engine = Engine({})
        self.feed: ChangeFeed | None = None
        self._version: tuple[int, str] | None = None
        # (tenant, type) -> (monotonic time read, entity id -> geometry): geofence "near"
        self._places: dict[tuple[str, str], tuple[float, dict[str, dict[str, Any]]]] = {}

    # --- the cache of rules --------------------------------------------------------------

    def compile(self, stored: StoredRule) -> Rule:
        return compile_rule(stored.tenant, stored.doc, self.core)

    async def reload(self) -> None:
        """Read every rule again (after an API change, or another worker's)."""
        version = await self.store.version()
        rules: dict[str, dict[str, Rule]] = {}
        for stored in await self.store.every():
            known = self.rules.get(stored.tenant, {}).get(stored.id)
            if known is not None and known.doc == stored.doc:
                rules.setdefault(known.tenant, {})[known.id] = known  # compiled already
                continue
            try:
                rule = self.compile(stored)
            except CityhubError:
                log.exception("rule %s of tenant %r cannot be used", stored.id, stored.tenant)
                continue
            rules.setdefault(rule.tenant, {})[rule.id] = rule
        self.rules = rules
        self.engine = Engine(rules, self.place_geometries)
        self._version = version

    async def watch(self, every_s: float = WATCH_S) -> None:
        """Reload when another worker changed the rules (runs while serving)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.refresh()
            except CityhubError:
                log.exception("reloading rules failed")

    async def refresh(self) -> bool:
        """Reload if the rules changed since the last load; True if they had."""
        if await self.store.version() == self._version:
            return False
        await self.reload()
        return True

    # --- the change-log consumer ---------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Evaluate changes and move the cursor in one transaction; False (nothing written)
        when no rule watches any of them."""
        engine = self.engine
        self._track_places(changes)
        relevant = [c for c in changes if engine.watches(c)]
        if not relevant:
            return False
        await self._load_places(engine, relevant)
        actions = await self.store.step(
            engine.keys_for_changes(relevant),
            lambda plan: engine.on_changes(relevant, plan),
            (CONSUMER, old, new),
        )
        await self.perform(actions)
        return True

    async def check(self, now: datetime | None = None) -> int:
        """The periodic check at ``now`` (default: the current time): fire the conditions a
        duration made true without a new change; how many events it raised or cleared."""
        at = to_micros(now or datetime.now(UTC))
        engine = self.engine
        due = []
        for key in await self.store.due(at):
            rule = engine.rule(key[0], key[1])
            if rule is not None and rule.enabled:
                due.append(key)
        if not due:
            return 0
        actions = await self.store.step(
            engine.keys_for_tick(due), lambda plan: engine.tick(due, at, plan), None
        )
        await self.perform(actions)
        return len(actions)

    async def run(self, every_s: float = CHECK_S) -> None:
        """The periodic check, and the actions other workers left undone (runs while
        serving)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.check()
                await self.perform(await self.store.stale())
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("the periodic rule check failed")

    # --- actions -------------------------------------------------------------------------

    async def perform(self, actions: Iterable[Action]) -> None:
        """Raise and clear events, in order; a failed one stays for a later retry."""
        for action in actions:
            try:
                await self._perform(action)
            except Exception:  # noqa: BLE001 - retried once its lease ends
                log.exception("rule %s: %s failed", action.rule_id, action.op)
                continue
            await self.store.done(action.aid)

    async def _perform(self, action: Action) -> None:
        actor = f"rule:{action.rule_id}"
        if action.op == RAISE:
            spec = EventSpec.from_json(action.body)
            event_id, new = await self.events.raise_event(action.tenant, spec, actor)
            rule = self.engine.rule(action.tenant, action.rule_id)
            if new and rule is not None and rule.actions:
                try:
                    await self._run_actions(action.tenant, event_id, rule)
                except Exception:  # noqa: BLE001 - the event stands; its actions are logged
                    log.exception("rule %s: the actions on %s failed", rule.id, event_id)
            return
        event = await self.events.open_event(action.tenant, str(action.body["dedupeKey"]))
        if event is not None:
            with contextlib.suppress(Conflict):  # someone closed it meanwhile
                reason = str(action.body.get("reason", ""))
                await self.events.transition(action.tenant, event["id"], "cleared", actor, reason)

    async def _run_actions(self, tenant: str, event_id: str, rule: Rule) -> None:
        """The rule's actions on the event it opened (notify, webhook, SMS, cameras); each
        outcome is in the audit log (``rule.action``). A failed action is not retried: the
        event is open and the operators see it."""
        runner = self.hub.extras.get("actions")
        if runner is None:
            return
        event = await self.events.get(tenant, event_id)
        audit = self.hub.extras.get("audit")
        for item in rule.actions:
            result = await runner.run(tenant, event, item)
            if result.get("ok") is False:
                log.warning("rule %s: %s action failed: %s", rule.id, item["kind"], result)
            if audit is not None:
                await audit.record(
                    f"rule:{rule.id}",
                    "rule.action",
                    target=event_id,
                    tenant=tenant,
                    outcome="ok" if result.get("ok", True) is not False else "failed",
                    detail={"kind": item["kind"], "result": result},
                )

    # --- places for geofence rules with "near" ---------------------------------------------

    def place_geometries(self, tenant: str, kind: str) -> Iterable[dict[str, Any]]:
        """The cached geometries of the entities of a type (see :meth:`places`)."""
        found = self._places.get((tenant, kind))
        return found[1].values() if found else ()

    def _track_places(self, changes: list[Change]) -> None:
        """Keep the cached places up to date with the changes at hand."""
        if not self._places:
            return
        for change in changes:
            for kind in change.entity.get("type", ()):
                cached = self._places.get((change.tenant, kind))
                if cached is None:
                    continue
                where = _geometry(change.entity) if change.op != DELETE else None
                if where is None:
                    cached[1].pop(change.entity_id, None)
                else:
                    cached[1][change.entity_id] = where

    async def _load_places(self, engine: Engine, changes: list[Change]) -> None:
        near = engine.near_types
        wanted = {
            (change.tenant, place)
            for change in changes
            for kind in change.entity.get("type", ())
            for place in near.get((change.tenant, kind), ())
        }
        for tenant, kind in wanted:
            await self.places(tenant, kind)

    async def places(self, tenant: str, kind: str) -> None:
        """Read the places of a type (entity id -> geometry) unless read within 2 s."""
        clock = time.monotonic()
        cached = self._places.get((tenant, kind))
        if cached is not None and clock - cached[0] < _PLACES_FRESH_S:
            return
        found: dict[str, dict[str, Any]] = {}
        query = EntityQuery(types=(frozenset({kind}),), attrs=frozenset({LOCATION}), limit=1000)
        with contextlib.suppress(NonexistentTenant):
            while len(found) < _PLACES_MAX:
                page = (await self.hub.entities.query(tenant, query)).entities
                for entity in page:
                    where = _geometry(entity)
                    if where is not None:
                        found[entity["id"]] = where
                if len(page) < query.limit:
                    break
                query.offset += query.limit
        self._places[(tenant, kind)] = (clock, found)

    # --- the API's operations --------------------------------------------------------------

    def check_rule(self, tenant: str, body: Any, rule_id: str | None = None) -> Rule:
        """Check and compile a rule of ``tenant`` (BadRequestData naming what is wrong)."""
        rule = compile_rule(tenant, body, self.core, rule_id)
        rule.doc["id"] = rule.id
        if rule.kind == COMPOSITE:
            mine = self.rules.get(tenant, {})
            for ref in rule.refs:
                other = mine.get(ref)
                if other is None:
                    raise BadRequestData(f"a composite rule refers to {ref!r}: no such rule")
                if other.kind == COMPOSITE:
                    raise BadRequestData(
                        f"a composite rule cannot refer to another composite rule ({ref!r})"
                    )
        return rule

    async def create(self, tenant: str, body: Any) -> Rule:
        """Add a rule (BadRequestData if invalid, AlreadyExists if its id is taken)."""
        await self.refresh()  # other workers' changes, for the references it may make
        rule = self.check_rule(tenant, body)
        await self.store.insert(tenant, rule.id, rule.doc)
        await self.reload()
        return rule

    async def replace(self, tenant: str, rule_id: str, body: Any) -> Rule:
        """Replace a rule; its state is kept unless what it evaluates changed."""
        await self.refresh()
        rule = self.check_rule(tenant, body, rule_id)
        old = await self.store.get(tenant, rule_id)
        if old is None:
            raise ResourceNotFound(f"no rule {rule_id}")
        reset = _evaluated(old.doc) != _evaluated(rule.doc)
        if not await self.store.replace(tenant, rule_id, rule.doc, reset):
            raise ResourceNotFound(f"no rule {rule_id}")
        await self.reload()
        return rule

    async def delete(self, tenant: str, rule_id: str) -> None:
        """Remove a rule and its state (its open events stay open)."""
        if not await self.store.delete(tenant, rule_id):
            raise ResourceNotFound(f"no rule {rule_id}")
        await self.reload()

    async def get(self, tenant: str, rule_id: str) -> tuple[StoredRule, dict[str, Any]]:
        """A rule and what it currently sees: its active conditions and pending ones."""
        stored = await self.store.get(tenant, rule_id)
        if stored is None:
            raise ResourceNotFound(f"no rule {rule_id}")
        active, pending = [], []
        for key, s in await self.store.states(tenant, rule_id):
            if key == SUMMARY:
                continue
            item = {"key": "rule" if key == WHOLE else key, "since": iso(s.since)}
            if s.active:
                active.append(item)
            elif s.due is not None:
                pending.append(item | {"due": iso(s.due)})
        return stored, {"active": active, "pending": pending}

    async def list(self, tenant: str) -> list[StoredRule]:
        """The rules of a tenant, oldest first."""
        return [r for r in await self.store.every() if r.tenant == tenant]


def _evaluated(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _DISPLAY}


def _geometry(entity: dict[str, Any]) -> dict[str, Any] | None:
    for inst in entity.get("attrs", {}).get(LOCATION) or []:
        if isinstance(inst.get("value"), dict):
            value: dict[str, Any] = inst["value"]
            return value
    return None
