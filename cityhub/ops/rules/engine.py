"""Evaluating rules: pure functions from (changes or a clock tick, stored state) to new state
and event actions.

The state of a rule is a set of rows keyed ``(tenant, rule id, key)``: per entity (threshold,
absence, geofence, count grouped by entity), :data:`WHOLE` (count grouped by type, a
composite's own condition) and :data:`SUMMARY` (how many of the rule's conditions are active
and when it last went on and off, which composite rules read). A :class:`Plan` holds the rows a
step loaded, the rows it changes and the actions (raise / clear an event) it queues; the store
writes them in one transaction, with the change-log cursor when the step handles changes, so
several workers and restarts agree. Nothing here does I/O: the dry run replays history through
the same functions with the rows in memory.

Times are microseconds since the epoch: an attribute's ``observedAt`` when the change carries
one, else the time of the change.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cityhub.bus import DELETE, Change
from cityhub.ngsild import geo
from cityhub.ngsild import query as qlang
from cityhub.ngsild.entity import Entity
from cityhub.ops.rules.model import (
    ABSENCE,
    COMPOSITE,
    COUNT,
    GEOFENCE,
    RATE,
    THRESHOLD,
    Compare,
    Rule,
)
from cityhub.temporal.model import iso, micros_of

Key = tuple[str, str, str]  # tenant, rule id, key
SUMMARY = ""  # per rule: {"n": active conditions, "on", "off", "pulse" (a count fired): µs}
WHOLE = "*"  # the rule as a whole: count grouped by type, a composite's own condition
RAISE, CLEAR = "raise", "clear"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"

#: geometries of the entities of a type in a tenant (for geofence rules with ``near``)
Places = Callable[[str, str], Iterable[dict[str, Any]]]


@dataclass(slots=True)
class State:
    """One state row: active (its event is raised), since when, when a tick is due, data."""

    active: bool = False
    since: int = 0
    due: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Action:
    """An event to raise or clear, queued in the step's transaction, done after it."""

    tenant: str
    rule_id: str
    op: str  # raise | clear
    at: int  # µs: when the condition was met or ended
    body: dict[str, Any]  # raise: the event (events API form); clear: dedupeKey, reason
    aid: int = 0  # its row in the store


class Plan:
    """The rows a step loaded, what it changes (None: delete) and the actions it queues."""

    def __init__(self, loaded: dict[Key, State]) -> None:
        self.loaded = loaded
        self.changed: dict[Key, State | None] = {}
        self.actions: list[Action] = []
        self.moved: set[tuple[str, str]] = set()  # (tenant, rule) whose summary changed
        self._holding: dict[tuple[str, str], set[str]] | None = None

    def rules_holding(self, tenant: str, row: str) -> set[str]:
        """The rules with a row for ``row`` (an entity): loaded, or written in this step."""
        if self._holding is None:
            self._holding = {}
            for t, rule_id, r in self.loaded:
                self._holding.setdefault((t, r), set()).add(rule_id)
        found = set(self._holding.get((tenant, row), ()))
        for (t, rule_id, r), s in self.changed.items():
            if t == tenant and r == row and s is not None:
                found.add(rule_id)
        return found

    def get(self, key: Key) -> State | None:
        if key in self.changed:
            return self.changed[key]
        return self.loaded.get(key)

    def put(self, key: Key, state: State) -> None:
        self.changed[key] = state

    def drop(self, key: Key) -> None:
        if self.get(key) is not None:
            self.changed[key] = None

    def summary(self, tenant: str, rule_id: str) -> State:
        return self.get((tenant, rule_id, SUMMARY)) or State()

    def count(self, tenant: str, rule_id: str, delta: int, at: int) -> None:
        """One condition of a rule went active (+1) or ended (-1)."""
        s = self.summary(tenant, rule_id)
        n = max(0, int(s.data.get("n", 0)) + delta)
        if delta > 0 and n == delta:
            s.data["on"] = at
        if delta < 0 and n == 0:
            s.data["off"] = at
        s.data["n"] = n
        s.active = n > 0
        self.put((tenant, rule_id, SUMMARY), s)
        self.moved.add((tenant, rule_id))

    def pulse(self, tenant: str, rule_id: str, at: int) -> None:
        """A rule whose events are not cleared by it (count) fired at ``at``."""
        s = self.summary(tenant, rule_id)
        s.data["pulse"] = max(int(s.data.get("pulse") or 0), at)
        self.put((tenant, rule_id, SUMMARY), s)
        self.moved.add((tenant, rule_id))


def moment(change: Change, attrs: Iterable[str] = ()) -> int:
    """When a change happened: the latest ``observedAt`` of ``attrs`` (default: the attributes
    it touched), else the time of the write."""
    written = micros_of(change.at, 0)
    best: int | None = None
    for name in attrs or change.prev.keys():
        for inst in change.current(name):
            seen = inst.get("observedAt")
            if isinstance(seen, str):
                t = micros_of(seen, written)
                best = t if best is None else max(best, t)
    return written if best is None else best


def location_of(entity: Entity) -> tuple[float, float] | None:
    """A point for an entity's ``location`` (a Point, else the centre of its bounding box)."""
    for inst in entity.get("attrs", {}).get(LOCATION) or []:
        value = inst.get("value")
        if not isinstance(value, dict):
            continue
        try:
            if value.get("type") == "Point":
                lon, lat = float(value["coordinates"][0]), float(value["coordinates"][1])
            else:
                x0, y0, x1, y1 = geo.bbox_of(value)
                lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if -180 <= lon <= 180 and -90 <= lat <= 90:
            return lon, lat
    return None


def _geometry(entity: Entity) -> dict[str, Any] | None:
    for inst in entity.get("attrs", {}).get(LOCATION) or []:
        if isinstance(inst.get("value"), dict):
            value: dict[str, Any] = inst["value"]
            return value
    return None


def dedupe_key(rule: Rule, key: str) -> str:
    """The dedupeKey of a rule's events: ``rule:<id>:<entity id>``, or ``rule:<id>``."""
    return f"rule:{rule.id}" if key in (WHOLE, SUMMARY) else f"rule:{rule.id}:{key}"


_UP, _DOWN = (">", ">="), ("<", "<=")


class TypeIndex:
    """The rules watching one entity type of a tenant, indexed so that a change reaches only
    the rules it can move.

    A threshold rule whose ``q`` is one comparison of a top-level attribute with a number
    (``pm25>=75``) is *simple*: for a value ``v`` the simple rules that may hold are found by
    bisecting their thresholds. Every other rule is evaluated on every change of the type.
    The candidates are a superset; each is still evaluated in full."""

    def __init__(self, rules: list[Rule]) -> None:
        self.order = {id(r): n for n, r in enumerate(rules)}
        self.always: list[Rule] = []
        self.by_id = {r.id: r for r in rules}
        # attribute -> (ascending thresholds and rules for > / >=, the same for < / <=)
        self.up: dict[str, tuple[list[float], list[Rule]]] = {}
        self.down: dict[str, tuple[list[float], list[Rule]]] = {}
        pairs: dict[tuple[str, bool], list[tuple[float, int, Rule]]] = {}
        for n, rule in enumerate(rules):
            simple = _simple(rule)
            if simple is None:
                self.always.append(rule)
                continue
            attr, op, value = simple
            pairs.setdefault((attr, op in _UP), []).append((value, n, rule))
        for (attr, up), items in pairs.items():
            items.sort(key=lambda x: (x[0], x[1]))
            (self.up if up else self.down)[attr] = (
                [x[0] for x in items],
                [x[2] for x in items],
            )

    def candidates(self, change: Change, held: set[str]) -> list[Rule]:
        found: dict[int, Rule] = {id(r): r for r in self.always}
        for rule_id in held:
            rule = self.by_id.get(rule_id)
            if rule is not None:
                found[id(rule)] = rule
        if change.op != DELETE:
            for attr in set(self.up) | set(self.down):
                values = _numbers(change.entity, attr)
                if values is None:  # not a plain number: every simple rule on it
                    for table in (self.up, self.down):
                        for rule in table.get(attr, ((), []))[1]:
                            found[id(rule)] = rule
                    continue
                if not values:
                    continue
                if attr in self.up:  # v > t or v >= t: thresholds up to the largest value
                    thresholds, rules = self.up[attr]
                    for rule in rules[: bisect.bisect_right(thresholds, max(values))]:
                        found[id(rule)] = rule
                if attr in self.down:  # v < t or v <= t: thresholds from the smallest value
                    thresholds, rules = self.down[attr]
                    for rule in rules[bisect.bisect_left(thresholds, min(values)) :]:
                        found[id(rule)] = rule
        return sorted(found.values(), key=lambda r: self.order[id(r)])


def _simple(rule: Rule) -> tuple[str, str, float] | None:
    """(attribute, op, number) of a threshold rule whose condition is that one comparison."""
    q = rule.q
    if rule.kind != THRESHOLD or rule.compare or not isinstance(q, qlang.Compare):
        return None
    if q.path.sub or q.path.keys or q.op not in (*_UP, *_DOWN):
        return None
    value = q.value
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return q.path.attr, q.op, float(value)


def _numbers(entity: Entity, attr: str) -> list[float] | None:
    """The numeric values of an attribute's instances ([] when absent); None when one of
    them is not a plain number (the index then gives way to full evaluation)."""
    found: list[float] = []
    for inst in entity.get("attrs", {}).get(attr) or []:
        value = inst.get("value")
        if isinstance(value, dict):
            value = value.get("@value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        found.append(float(value))
    return found


class Engine:
    """The rules of every tenant (a snapshot) and the evaluation of changes and ticks."""

    def __init__(self, rules: dict[str, dict[str, Rule]], places: Places | None = None) -> None:
        self.rules = rules
        self.places = places or (lambda tenant, kind: ())
        self.by_type: dict[tuple[str, str], list[Rule]] = {}
        self.composites: dict[str, list[Rule]] = {}
        for tenant, found in rules.items():
            for rule in found.values():
                if not rule.enabled:
                    continue
                if rule.kind == COMPOSITE:
                    self.composites.setdefault(tenant, []).append(rule)
                else:
                    self.by_type.setdefault((tenant, rule.entity_type), []).append(rule)
        self.index = {k: TypeIndex(found) for k, found in self.by_type.items()}
        #: (tenant, watched type) -> the types of the places its geofence rules look near
        self.near_types: dict[tuple[str, str], set[str]] = {}
        for key, watching in self.by_type.items():
            near = {rule.near.entity_type for rule in watching if rule.near is not None}
            if near:
                self.near_types[key] = near

    def rule(self, tenant: str, rule_id: str) -> Rule | None:
        return self.rules.get(tenant, {}).get(rule_id)

    def concerned(self, change: Change) -> list[Rule]:
        """The enabled rules watching the type of the changed entity."""
        found: list[Rule] = []
        for kind in change.entity.get("type", ()):
            found.extend(self.by_type.get((change.tenant, kind), ()))
        return found

    # --- which rows a step needs ----------------------------------------------------------

    def watches(self, change: Change) -> bool:
        """Whether any enabled rule watches the type of the changed entity."""
        return any((change.tenant, kind) in self.by_type for kind in change.entity.get("type", ()))

    def candidates(self, change: Change, plan: Plan) -> list[Rule]:
        """The rules a change can move: those whose condition the entity may meet now, and
        those holding state for it (pending, active, counting); the rest would find their
        condition false and nothing to end, so they are not evaluated at all."""
        found: list[Rule] = []
        held = plan.rules_holding(change.tenant, change.entity_id)
        for kind in change.entity.get("type", ()):
            index = self.index.get((change.tenant, kind))
            if index is not None:
                found.extend(index.candidates(change, held))
        return found

    # --- which rows a step needs ----------------------------------------------------------
    # A step loads every rule's rows under the row keys it names (the rule part of a key is
    # not looked at): the entities changed, and per tenant the rule-wide rows (WHOLE, the
    # SUMMARY rows composites read). What is loaded tells which rules hold state.

    def keys_for_changes(self, changes: Iterable[Change]) -> set[Key]:
        keys: set[Key] = set()
        for change in changes:
            keys.add((change.tenant, "", change.entity_id))
            keys |= {(change.tenant, "", WHOLE), (change.tenant, "", SUMMARY)}
        return keys

    def keys_for_tick(self, due: Iterable[Key]) -> set[Key]:
        keys = set(due)
        for tenant in {k[0] for k in keys}:
            keys |= {(tenant, "", WHOLE), (tenant, "", SUMMARY)}
        return keys

    # --- steps ---------------------------------------------------------------------------

    def on_changes(self, changes: Iterable[Change], plan: Plan) -> None:
        """Evaluate changes (in log order) against the rules watching them."""
        latest: dict[str, int] = {}
        for change in changes:
            for rule in self.candidates(change, plan):
                at = _KINDS[rule.kind](self, rule, change, plan)
                latest[rule.tenant] = max(latest.get(rule.tenant, at), at)
        for tenant, at in latest.items():
            self._composites(tenant, at, plan, set())

    def tick(self, due: Iterable[Key], now: int, plan: Plan) -> None:
        """Fire what a duration made true with no new change: ``for`` of a threshold or an
        absence, a geofence dwell; expire count windows; re-evaluate composite windows."""
        waiting: dict[str, set[str]] = {}
        for key in sorted(due):
            tenant, rule_id, row = key
            rule, s = self.rule(tenant, rule_id), plan.get(key)
            if rule is None or not rule.enabled or s is None or s.due is None or s.due > now:
                continue
            if rule.kind == COMPOSITE:
                waiting.setdefault(tenant, set()).add(rule_id)
            elif rule.kind == COUNT:
                times = [t for t in s.data.get("times", []) if t > now - rule.window_us]
                if times:
                    s.data["times"], s.due = times, max(times) + rule.window_us
                    plan.put(key, s)
                else:
                    plan.drop(key)
            elif not s.active:
                at = s.due
                self._fire(rule, key, s, at, plan, None, reason_since=s.since)
        for tenant in {t for t, _ in plan.moved} | set(waiting):
            self._composites(tenant, now, plan, waiting.get(tenant, set()))

    # --- actions -------------------------------------------------------------------------

    def _fire(
        self,
        rule: Rule,
        key: Key,
        s: State,
        at: int,
        plan: Plan,
        entity: Entity | None,
        *,
        reason_since: int | None = None,
        items: list[dict[str, str]] | None = None,
        keep: bool = True,
    ) -> None:
        """Raise the rule's event for ``key`` (and mark the row active, when ``keep``)."""
        tenant, _, row = key
        body = dict(rule.event)
        body["dedupeKey"] = dedupe_key(rule, row)
        body["source"] = f"rule:{rule.id}"
        if row not in (WHOLE, SUMMARY):
            body["related"] = [row]
        loc = location_of(entity) if entity is not None else None
        if loc is None and isinstance(s.data.get("loc"), list):
            loc = (float(s.data["loc"][0]), float(s.data["loc"][1]))
        if loc is not None:
            body["location"] = {"type": "Point", "coordinates": [loc[0], loc[1]]}
        extra = [{"key": "rule", "val": rule.id}]
        if row not in (WHOLE, SUMMARY):
            extra.append({"key": "entity", "val": row})
        if reason_since is not None:
            extra.append({"key": "since", "val": iso(reason_since)})
        extra.append({"key": "at", "val": iso(at)})
        body["items"] = [*rule.event.get("items", []), *extra, *(items or [])]
        plan.actions.append(Action(tenant, rule.id, RAISE, at, body))
        if keep:
            s.active, s.due = True, None
            plan.put(key, s)
            plan.count(tenant, rule.id, +1, at)
        else:
            plan.pulse(tenant, rule.id, at)

    def _clear(self, rule: Rule, key: Key, at: int, plan: Plan, reason: str) -> None:
        """Clear the rule's open event for ``key``; the row stops being active."""
        tenant, _, row = key
        body = {"dedupeKey": dedupe_key(rule, row), "reason": reason}
        plan.actions.append(Action(tenant, rule.id, CLEAR, at, body))
        plan.count(tenant, rule.id, -1, at)

    def _forget(self, rule: Rule, key: Key, at: int, plan: Plan, reason: str) -> None:
        s = plan.get(key)
        if s is not None and s.active:
            self._clear(rule, key, at, plan, reason)
        plan.drop(key)

    # --- kinds ---------------------------------------------------------------------------

    def _threshold(self, rule: Rule, change: Change, plan: Plan) -> int:
        key = (rule.tenant, rule.id, change.entity_id)
        t = moment(change, rule.q_attrs)
        if change.op == DELETE:
            self._forget(rule, key, t, plan, "the entity was deleted")
            return t
        s = plan.get(key)
        entity = change.entity
        holds = (rule.q is None or qlang.matches(rule.q, entity)) and all(
            _compares(c, entity) for c in rule.compare
        )
        if s is None or not s.active:
            if not holds:
                plan.drop(key)  # it stopped holding before "for" elapsed
                return t
            s = s or State(since=t)
            _remember_place(s, entity)
            if t - s.since >= rule.for_us:
                self._fire(rule, key, s, t, plan, entity, reason_since=s.since)
            else:
                s.due = s.since + rule.for_us
                plan.put(key, s)
            return t
        over = qlang.matches(rule.clear, entity) if rule.clear is not None else not holds
        if over:
            what = rule.doc.get("clear") or f"not {rule.doc.get('q')}"
            self._clear(rule, key, t, plan, f"{what} at {iso(t)}")
            plan.drop(key)
        return t

    def _absence(self, rule: Rule, change: Change, plan: Plan) -> int:
        key = (rule.tenant, rule.id, change.entity_id)
        t = moment(change, rule.q_attrs)
        if change.op == DELETE:
            self._forget(rule, key, t, plan, "the entity was deleted")
            return t
        s = plan.get(key)
        seen = rule.q is None or qlang.matches(rule.q, change.entity)
        if s is None:  # known from now on: absent for "for" from here
            s = State(since=t)
        elif seen:
            if s.active:
                self._clear(rule, key, t, plan, f"updated again at {iso(t)}")
                s.active = False
            s.since = max(s.since, t)
        else:  # changed, but not in the way that counts as seen
            return t
        s.due = s.since + rule.for_us
        _remember_place(s, change.entity)
        plan.put(key, s)
        return t

    def _count(self, rule: Rule, change: Change, plan: Plan) -> int:
        t = moment(change, rule.q_attrs)
        if change.op == DELETE or (rule.q is not None and not qlang.matches(rule.q, change.entity)):
            return t
        key = (rule.tenant, rule.id, _row_key(rule, change.entity_id))
        s = plan.get(key) or State(since=t)
        times = sorted([x for x in s.data.get("times", []) if x > t - rule.window_us] + [t])
        if len(times) >= rule.count:
            first = times[-rule.count]
            got = [{"key": "count", "val": str(rule.count)}, {"key": "window", "val": _w(rule)}]
            self._fire(
                rule, key, s, t, plan, change.entity, reason_since=first, items=got, keep=False
            )
            times = []
        if not times:
            plan.drop(key)
            return t
        s.data["times"] = times[-rule.count :]
        s.due = max(times) + rule.window_us
        plan.put(key, s)
        return t

    def _geofence(self, rule: Rule, change: Change, plan: Plan) -> int:
        key = (rule.tenant, rule.id, change.entity_id)
        t = moment(change, (LOCATION,))
        if change.op == DELETE:
            self._forget(rule, key, t, plan, "the entity was deleted")
            return t
        entity = change.entity
        s = plan.get(key)
        inside = self._inside(rule, entity)
        was = s is not None and bool(s.data.get("in"))
        if inside and not was:
            if s is not None and s.active:  # back in after leaving
                self._clear(rule, key, t, plan, f"came back into the area at {iso(t)}")
            s = State(since=t, data={"in": True})
            _remember_place(s, entity)
            if rule.on == "enter" or (rule.on == "dwell" and rule.dwell_us == 0):
                self._fire(rule, key, s, t, plan, entity, reason_since=t)
            else:
                s.due = t + rule.dwell_us if rule.on == "dwell" else None
                plan.put(key, s)
        elif inside and s is not None:
            _remember_place(s, entity)
            if rule.on == "dwell" and not s.active and t - s.since >= rule.dwell_us:
                self._fire(rule, key, s, t, plan, entity, reason_since=s.since)
            else:
                plan.put(key, s)
        elif was and s is not None:
            if s.active:
                self._clear(rule, key, t, plan, f"left the area at {iso(t)}")
            if rule.on == "leave":
                s = State(since=t, data={"in": False})
                self._fire(rule, key, s, t, plan, entity, reason_since=t)
            else:
                plan.drop(key)
        return t

    def _rate(self, rule: Rule, change: Change, plan: Plan) -> int:
        key = (rule.tenant, rule.id, change.entity_id)
        t = moment(change, (rule.attribute,))
        if change.op == DELETE:
            self._forget(rule, key, t, plan, "the entity was deleted")
            return t
        entity = change.entity
        value = number_of(entity, rule.attribute)
        if value is None or (rule.q is not None and not qlang.matches(rule.q, entity)):
            return t
        s = plan.get(key) or State(since=t)
        # kept relative to the latest time seen, so a value arriving late keeps the rest
        old = s.data.get("samples", [])
        latest = max([t, *(p[0] for p in old)])
        kept = [p for p in old if p[0] >= latest - rule.window_us]
        s.data["samples"] = sorted([*kept, [t, value]])[-_MAX_SAMPLES:]
        samples = [p for p in s.data["samples"] if t - rule.window_us <= p[0] <= t]
        low, high = min(v for _, v in samples), max(v for _, v in samples)
        up = value - low if rule.rise is not None and value - low >= rule.rise else None
        down = high - value if rule.fall is not None and high - value >= rule.fall else None
        _remember_place(s, entity)
        if (up is not None or down is not None) and not s.active:
            moved = f"+{up:g}" if up is not None else f"-{down:g}"
            got = [{"key": "change", "val": moved}, {"key": "within", "val": rule.doc["within"]}]
            self._fire(rule, key, s, t, plan, entity, reason_since=samples[0][0], items=got)
        elif up is None and down is None and s.active:
            self._clear(rule, key, t, plan, f"steady within {rule.doc['within']} at {iso(t)}")
            s.active = False
            plan.put(key, s)
        else:
            plan.put(key, s)
        return t

    def _inside(self, rule: Rule, entity: Entity) -> bool:
        if rule.q is not None and not qlang.matches(rule.q, entity):
            return False
        shape = _geometry(entity)
        if shape is None:
            return False
        if rule.area is not None:
            return rule.area.matches(shape)
        assert rule.near is not None
        point = location_of(entity)
        if point is None:
            return False
        probe = geo.GeoQuery(
            "near", {"type": "Point", "coordinates": list(point)}, rule.near.distance
        )
        return any(probe.matches(p) for p in self.places(rule.tenant, rule.near.entity_type))

    def _composites(self, tenant: str, at: int, plan: Plan, due: set[str]) -> None:
        moved = {r for t, r in plan.moved if t == tenant}
        for rule in self.composites.get(tenant, ()):
            if rule.id not in due and not moved & set(rule.refs):
                continue
            key = (tenant, rule.id, WHOLE)
            s = plan.get(key)
            on: dict[str, bool] = {}
            expiries: list[int] = []
            for ref in rule.refs:
                sub = plan.get((tenant, ref, SUMMARY))
                data = sub.data if sub else {}
                n, off, pulse = int(data.get("n", 0)), data.get("off"), data.get("pulse")
                # ended less than "window" ago, or fired (a count) at most "window" ago
                ended = isinstance(off, int) and at - off < rule.window_us
                fired = isinstance(pulse, int) and 0 <= at - pulse <= rule.window_us
                on[ref] = n > 0 or ended or fired
                if n == 0 and (ended or fired):
                    last = max(off if ended and isinstance(off, int) else 0, pulse or 0)
                    expiries.append(last + rule.window_us + 1)
            holds = (
                all(on[r] for r in rule.all)
                and (not rule.any or any(on[r] for r in rule.any))
                and not any(on[r] for r in rule.not_)
            )
            active = s is not None and s.active
            s = s or State(since=at)
            s.due = min(expiries) if expiries else None
            if holds and not active:
                states = [{"key": f"rule:{r}", "val": "on" if on[r] else "off"} for r in on]
                s.since = at
                self._fire(rule, key, s, at, plan, None, reason_since=at, items=states)
                s.due = min(expiries) if expiries else None
            elif not holds and active:
                self._clear(rule, key, at, plan, f"the combined condition ended at {iso(at)}")
                s.active = False
            if s.active or s.due is not None:
                plan.put(key, s)
            else:
                plan.drop(key)


def _row_key(rule: Rule, entity_id: str) -> str:
    return WHOLE if rule.kind == COUNT and rule.group_by == "type" else entity_id


def _remember_place(s: State, entity: Entity) -> None:
    """Keep where the entity is, for events raised by a tick (without the entity at hand)."""
    loc = location_of(entity)
    if loc is not None:
        s.data["loc"] = [loc[0], loc[1]]


def number_of(entity: Entity, attribute: str) -> float | None:
    """The numeric value of an attribute's default instance (None when it has none)."""
    for inst in entity.get("attrs", {}).get(attribute) or []:
        value = inst.get("value")
        if isinstance(value, dict):
            value = value.get("@value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None
    return None


def _compares(c: Compare, entity: Entity) -> bool:
    left, right = number_of(entity, c.attribute), number_of(entity, c.than)
    if left is None or right is None:
        return False
    right *= c.factor
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[c.op]


def _w(rule: Rule) -> str:
    return str(rule.doc.get("window", ""))


_KINDS: dict[str, Callable[[Engine, Rule, Change, Plan], int]] = {
    THRESHOLD: Engine._threshold,
    ABSENCE: Engine._absence,
    COUNT: Engine._count,
    GEOFENCE: Engine._geofence,
    RATE: Engine._rate,
}
_MAX_SAMPLES = 500  # a rate rule keeps at most this many recent values per entity
