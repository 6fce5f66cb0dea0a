"""Turns logged changes into queued notifications (the ``subscriptions`` change-log consumer).

For each batch of changes the matcher finds the subscriptions each change concerns (entity
selector, trigger, watched attributes, q / geoQ / scopeQ on the entity the change left,
throttling), renders the entity *as the change left it* with the subscription's format and
@context, and queues one notification per subscription and batch, in the transaction that moves
its cursor. Periodic subscriptions (``timeInterval``) are served by :meth:`Matcher.periodic`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from cityhub.bus import CREATE, DELETE, Change
from cityhub.errors import CityhubError
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import VALUE_MEMBER, Entity
from cityhub.ngsild.filters import EntityQuery, entity_matches, types_match
from cityhub.ngsild.http import JSON_LD, LINK_REL, context_ref
from cityhub.ngsild.render import KEY_VALUES, View, render_entity
from cityhub.subscriptions.model import Subscription, compile_subscription, restore_context
from cityhub.subscriptions.outbox import OutboxRow
from cityhub.subscriptions.store import (
    Claim,
    Cursor,
    Queued,
    StoredSubscription,
    SubscriptionStore,
)

log = logging.getLogger(__name__)

CONSUMER = "subscriptions"
NULL = "urn:ngsi-ld:null"


class Matcher:
    """The compiled subscriptions of every tenant and the change-log handler using them."""

    def __init__(self, store: SubscriptionStore, core: ActiveContext) -> None:
        self.store = store
        self.core = core
        self.by_tenant: dict[str, list[Subscription]] = {}
        self.index: dict[str, _TenantIndex] = {}
        self.last_sent: dict[tuple[str, str], float] = {}  # throttling: monotonic seconds
        self.next_due: dict[tuple[str, str], float] = {}  # periodic subscriptions
        self.outlet: Outlet = _NoOutlet()
        self.periodic_query: Callable[[str, EntityQuery], Any] | None = None
        self._version: tuple[int, str] | None = None

    # --- the cache of compiled subscriptions -----------------------------------------------

    def compile(self, stored: StoredSubscription) -> Subscription:
        """The matcher form of a stored subscription."""
        doc = stored.doc
        return compile_subscription(
            stored.tenant,
            doc["raw"],
            restore_context(doc.get("context", {}), self.core),
            stored.created_at,
            stored.modified_at,
            doc.get("sinceSeq", 0),
        )

    async def reload(self) -> None:
        """Load every subscription (after a change through the API, or another worker's)."""
        version = await self.store.version()
        tenants: dict[str, list[Subscription]] = {}
        for stored in await self.store.every():
            try:
                sub = self.compile(stored)
            except CityhubError:
                log.exception("subscription %s cannot be used", stored.id)
                continue
            tenants.setdefault(sub.tenant, []).append(sub)
        self.by_tenant = tenants
        self.index = {tenant: _TenantIndex(subs) for tenant, subs in tenants.items()}
        self._version = version
        live = {(s.tenant, s.id) for subs in tenants.values() for s in subs}
        for cache in (self.last_sent, self.next_due):
            for key in [k for k in cache if k not in live]:
                del cache[key]

    async def watch(self, every_s: float = 2.0) -> None:
        """Reload when another worker changed the subscriptions (runs while serving)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                if await self.store.version() != self._version:
                    await self.reload()
            except CityhubError:
                log.exception("reloading subscriptions failed")

    # --- change-log consumer -----------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Queue the notifications of ``changes`` and move the cursor, in one transaction;
        False (nothing written: the feed stores the cursor later) when there are none."""
        rows = self.notifications(changes) if self.by_tenant else []
        if not rows:
            return False
        await self._queue(rows, (CONSUMER, old, new))
        return True

    async def _queue(self, rows: list[Queued], cursor: Cursor | None) -> None:
        claim = self.outlet.lease() if rows else None
        taken = await self.store.enqueue(rows, cursor, claim)
        if rows:
            self.outlet.take(taken, len(taken) < (claim[0] if claim else 0))

    def notifications(self, changes: list[Change]) -> list[Queued]:
        """One notification per subscription concerned by ``changes``, in their order."""
        now = datetime.now(UTC)
        clock = time.monotonic()
        data: dict[tuple[str, str], list[dict[str, Any]]] = {}
        subs: dict[tuple[str, str], Subscription] = {}
        for change in changes:
            index = self.index.get(change.tenant)
            if index is None:
                continue
            for sub in index.candidates(change.entity):
                if change.seq <= sub.since_seq or sub.time_interval or not sub.live(now):
                    continue
                if not _concerns(sub, change):
                    continue
                key = (sub.tenant, sub.id)
                if sub.throttling and key not in data:
                    last = self.last_sent.get(key)
                    if last is not None and clock - last < sub.throttling:
                        continue
                    self.last_sent[key] = clock
                data.setdefault(key, []).append(render_change(sub, change))
                subs[key] = sub
        return [queued(subs[key], entries) for key, entries in data.items()]

    # --- periodic subscriptions ------------------------------------------------------------

    async def periodic(self, tick_s: float = 0.5) -> None:
        """Notify periodic subscriptions of the current state of their entities."""
        while True:
            await asyncio.sleep(tick_s)
            with contextlib.suppress(CityhubError):
                await self._periodic_once()

    async def _periodic_once(self) -> None:
        if self.periodic_query is None:
            return
        now, clock = datetime.now(UTC), time.monotonic()
        rows: list[Queued] = []
        for subs in list(self.by_tenant.values()):
            for sub in subs:
                if not sub.time_interval or not sub.live(now):
                    continue
                key = (sub.tenant, sub.id)
                if self.next_due.get(key, 0.0) > clock:
                    continue
                self.next_due[key] = clock + sub.time_interval
                # with several workers, one of them sends each period
                if not await self.store.take_period(
                    sub.tenant, sub.id, time.time(), sub.time_interval
                ):
                    continue
                found = await self.periodic_query(sub.tenant, selection(sub))
                entities = [e for e in found if _selected(sub, e)]
                if entities:
                    rows.append(queued(sub, [render_entity(e, view_of(sub)) for e in entities]))
        if rows:
            await self._queue(rows, None)


class Outlet(Protocol):
    """Where queued notifications go next: the deliverer of this process."""

    def lease(self) -> Claim | None:
        """How many notifications it can take now, leased until when (None: none)."""

    def take(self, rows: list[OutboxRow], complete: bool) -> None:
        """Send ``rows`` (leased by the queueing transaction); unless ``complete``, more
        queued rows may be due and waiting to be claimed."""


class _NoOutlet:
    def lease(self) -> Claim | None:
        return None

    def take(self, rows: list[OutboxRow], complete: bool) -> None:
        return None


class _TenantIndex:
    """A tenant's subscriptions by the entity ids and types their selectors name, so a
    change is only tested against the subscriptions that could concern it."""

    def __init__(self, subs: list[Subscription]) -> None:
        self.by_id: dict[str, list[Subscription]] = {}
        self.by_type: dict[str, list[Subscription]] = {}
        self.anything: list[Subscription] = []
        self.order = {id(sub): n for n, sub in enumerate(subs)}
        for sub in subs:
            if not sub.selectors:
                self.anything.append(sub)
                continue
            for sel in sub.selectors:
                if sel.id is not None:
                    self.by_id.setdefault(sel.id, []).append(sub)
                elif sel.types:
                    # an entity matching an AND of types has each of them: index the first
                    for key in {min(conj) for conj in sel.types}:
                        self.by_type.setdefault(key, []).append(sub)
                else:
                    self.anything.append(sub)

    def candidates(self, entity: Entity) -> list[Subscription]:
        """The subscriptions whose selectors may select ``entity``, in creation order."""
        found = list(self.anything)
        found.extend(self.by_id.get(entity["id"], ()))
        for t in entity["type"]:
            found.extend(self.by_type.get(t, ()))
        if len(found) > 1:
            unique = {id(sub): sub for sub in found}
            found = sorted(unique.values(), key=lambda sub: self.order[id(sub)])
        return found


def selection(sub: Subscription) -> EntityQuery:
    """The entities a periodic subscription reports (its selectors and filters)."""
    query = EntityQuery(q=sub.filter.q, geo=sub.filter.geo, scope_q=sub.filter.scope_q, limit=1000)
    ids = {s.id for s in sub.selectors if s.id}
    if ids and all(s.id for s in sub.selectors):
        query.ids = frozenset(ids)
    types = [t for s in sub.selectors if s.types for t in s.types]
    if types and all(s.types for s in sub.selectors):
        query.types = tuple(types)
    if sub.watched:
        query.attrs = sub.watched
    return query


def _selected(sub: Subscription, entity: Entity) -> bool:
    if not sub.selectors:
        return True
    for sel in sub.selectors:
        if sel.id is not None and sel.id != entity["id"]:
            continue
        if sel.pattern is not None and not sel.pattern.fullmatch(entity["id"]):
            continue
        if sel.types is not None and not types_match(sel.types, entity["type"]):
            continue
        return True
    return False


def _concerns(sub: Subscription, change: Change) -> bool:
    """Does ``change`` trigger ``sub`` (selector, trigger, watched attributes, filters)?"""
    entity = change.entity
    if not _selected(sub, entity):
        return False
    triggers = sub.triggers
    if change.op == DELETE:
        fired = "entityDeleted" in triggers
    else:
        touched = change.prev.keys() if sub.watched is None else change.prev.keys() & sub.watched
        fired = (change.op == CREATE and "entityCreated" in triggers) or (
            bool(touched) and _attribute_trigger(triggers, change, touched)
        )
        if not fired and change.op != CREATE and "entityUpdated" in triggers:
            fired = bool(touched)
    if not fired:
        return False
    f = sub.filter
    if f.q is None and f.geo is None and f.scope_q is None:
        return True
    return entity_matches(f, entity)


def _attribute_trigger(triggers: frozenset[str], change: Change, touched: Any) -> bool:
    for name in touched:
        before, after = change.prev[name], change.current(name)
        kind = (
            "attributeCreated"
            if not before
            else "attributeDeleted"
            if not after
            else "attributeUpdated"
        )
        if kind in triggers:
            return True
    return False


def view_of(sub: Subscription) -> View:
    """How a subscription's notifications render entities."""
    return View(ctx=sub.ctx, fmt=sub.fmt, sys_attrs=sub.sys_attrs, attrs=sub.attrs, lang=sub.lang)


def render_change(sub: Subscription, change: Change) -> dict[str, Any]:
    """The ``data`` entry for one change: the entity as the change left it."""
    ctx = sub.ctx
    entity = change.entity
    if change.op == DELETE:
        types = [ctx.compact(t) for t in entity["type"]]
        return {
            "id": entity["id"],
            "type": types[0] if len(types) == 1 else types,
            "deletedAt": change.at,
        }
    out = render_entity(entity, view_of(sub))
    for name, before in change.prev.items():
        if sub.attrs is not None and name not in sub.attrs:
            continue
        short = ctx.compact(name)
        after = change.current(name)
        if not after and before:
            kind = before[0].get("type", "Property")
            out[short] = (
                NULL
                if sub.fmt == KEY_VALUES
                else {"type": kind, VALUE_MEMBER.get(kind, "value"): NULL, "deletedAt": change.at}
            )
        elif sub.show_changes and before and sub.fmt != KEY_VALUES:
            _add_previous(out.get(short), before)
    return out


def _add_previous(rendered: Any, before: list[dict[str, Any]]) -> None:
    """showChanges: ``previousValue`` (``previousObject``...) on each rendered instance."""
    items = rendered if isinstance(rendered, list) else [rendered]
    old = {inst.get("datasetId"): inst for inst in before}
    for item in items:
        if not isinstance(item, dict):
            continue
        prior = old.get(item.get("datasetId"))
        if prior is None:
            continue
        member = VALUE_MEMBER.get(prior.get("type", "Property"), "value")
        if member in prior:
            item["previous" + member[0].upper() + member[1:]] = prior[member]


def queued(sub: Subscription, data: list[dict[str, Any]]) -> Queued:
    """The outbox row of one notification."""
    nid = f"urn:ngsi-ld:Notification:{uuid.uuid4()}"
    body: dict[str, Any] = {
        "id": nid,
        "type": "Notification",
        "subscriptionId": sub.id,
        "data": data,
    }
    endpoint = dict(sub.endpoint)
    ref = context_ref(sub.ctx)
    if endpoint["accept"] == JSON_LD:
        body["@context"] = ref
    else:
        first = ref if isinstance(ref, str) else ref[0]
        endpoint["headers"] = {"Link": f"<{first}>; {LINK_REL}"}
    return Queued(sub.tenant, sub.id, nid, endpoint, orjson.dumps(body))
