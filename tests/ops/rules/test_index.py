"""The rule index: a change is evaluated only against the rules it can move, and that gives
exactly what evaluating every rule gives (random rules and changes, with state carried from
step to step, compared step by step)."""

from __future__ import annotations

import copy
import random
from typing import Any

from cityhub.bus import Change
from cityhub.ngsild.context import ActiveContext, ContextLoader
from cityhub.ops.rules.engine import Engine, Plan, State
from cityhub.ops.rules.model import compile_rule

TENANT = "gwacheon"
PM25 = "https://uri.etsi.org/ngsi-ld/default-context/pm25"
TYPE = "https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved"


async def _never(url: str) -> Any:
    raise AssertionError(f"no remote @context here: {url}")


def _context() -> ActiveContext:
    """The core @context alone, as the hub builds it."""
    return ContextLoader(_never).core


def _rules(rng: random.Random) -> dict[str, dict[str, Any]]:
    ctx, found = _context(), {}
    for n in range(60):
        op = rng.choice([">", ">=", "<", "<="])
        doc: dict[str, Any] = {
            "id": f"r{n}",
            "kind": "threshold",
            "entityType": "AirQualityObserved",
            "q": f"pm25{op}{rng.randrange(0, 200)}",
            "event": {"eventCode": f"E{n}", "eventName": "x"},
        }
        if rng.random() < 0.3:
            doc["for"] = f"PT{rng.randrange(1, 30)}M"
        if rng.random() < 0.3 and op in (">", ">="):
            doc["clear"] = f"pm25<{rng.randrange(0, 100)}"
        if n % 10 == 9:  # not indexable: evaluated on every change
            doc["q"] = f"pm25>{rng.randrange(0, 200)};pm10>=0"
        found[doc["id"]] = compile_rule(TENANT, doc, ctx)
    return {TENANT: found}


def _change(seq: int, station: int, value: Any, minute: int) -> Change:
    at = f"2026-01-10T{minute // 60:02d}:{minute % 60:02d}:00Z"
    entity_id = f"urn:ngsi-ld:AirQualityObserved:s{station}"
    entity = {
        "id": entity_id,
        "type": [TYPE],
        "attrs": {PM25: [{"type": "Property", "value": value, "observedAt": at}]},
    }
    return Change(seq, TENANT, entity_id, "update", at, entity, {PM25: []})


def _full(engine: Engine) -> Engine:
    """The same engine evaluating every rule of the type on every change."""
    engine.candidates = lambda change, plan: Engine.concerned(engine, change)  # type: ignore[method-assign]
    return engine


def test_indexed_evaluation_equals_full_evaluation() -> None:
    rng = random.Random(42)
    rules = _rules(rng)
    indexed, full = Engine(rules), _full(Engine(rules))
    states: dict[Any, State] = {}
    for step in range(300):
        changes = []
        for i in range(5):
            value: Any = rng.uniform(0, 220) if rng.random() > 0.05 else "n/a"
            changes.append(_change(step * 5 + i, rng.randrange(8), value, step * 2 + i))
        a, b = Plan(copy.deepcopy(states)), Plan(copy.deepcopy(states))
        indexed.on_changes(changes, a)
        full.on_changes(changes, b)
        assert a.changed == b.changed, step
        assert [(x.rule_id, x.op, x.at, x.body) for x in a.actions] == [
            (x.rule_id, x.op, x.at, x.body) for x in b.actions
        ], step
        for key, s in a.changed.items():
            if s is None:
                states.pop(key, None)
            else:
                states[key] = s
    assert len(states) > 20  # the rules did hold state along the way


def test_only_the_rules_a_value_can_move_are_evaluated() -> None:
    rules = _rules(random.Random(1))
    engine = Engine(rules)
    low = _change(1, 1, 0.0, 0)
    moved = {r.id for r in engine.candidates(low, Plan({}))}
    every = {r.id for r in engine.concerned(low)}
    assert moved < every  # "pm25>150" and the like are not looked at for 0
    assert all(r.id in moved for r in engine.concerned(low) if r.id.endswith("9"))
    # a rule holding state for the entity is always looked at
    key = (TENANT, "r0", low.entity_id)
    assert "r0" in {r.id for r in engine.candidates(low, Plan({key: State(since=1)}))}
    # a value that is not a number: every rule of that attribute
    odd = _change(2, 1, "n/a", 0)
    assert {r.id for r in engine.candidates(odd, Plan({}))} == every
