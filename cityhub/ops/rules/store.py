"""Where rules, their state and their pending event actions live (migration 0011), on SQLite
and PostgreSQL.

:meth:`RuleStore.step` is the heart: it loads the state rows a step needs, runs the pure step
on them, writes what changed and queues the step's actions, and moves the change-log cursor —
all in one transaction (SQLite: in the one writer; PostgreSQL: the cursor row first, which
serialises workers handling the same changes, then the state rows ``FOR UPDATE``). So
"holding since" survives restarts and several workers never both act on one change. The
actions come back leased to the caller, which raises and clears the events and deletes them;
a crash in between leaves them to :meth:`RuleStore.stale` once the lease ends.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.ngsild.models import now_iso
from cityhub.ops.rules.engine import Action, Key, Plan, State
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.storage.sqlite import SQLiteStorage

Cursor = tuple[str, int, int]  # consumer name, from, to
LEASE_S = 60.0  # an action not done within this is someone else's to do

# the state rows of a set of row keys (entities), for every rule: only the rows that exist,
# however many rules watch them (most rules hold no state for most entities)
_SELECT_KEYS = (
    "SELECT rule_id, key, active, since, due, data FROM rule_state "
    "WHERE tenant = ? AND key IN ({marks})"
)
_UPSERT = (
    "INSERT INTO rule_state (tenant, rule_id, key, active, since, due, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, rule_id, key) DO UPDATE SET "
    "active = excluded.active, since = excluded.since, due = excluded.due, data = excluded.data"
)
_DELETE = "DELETE FROM rule_state WHERE tenant = ? AND rule_id = ? AND key = ?"
_ACTION = (
    "INSERT INTO rule_actions (tenant, rule_id, op, at, body, claimed_until) "
    "VALUES (?, ?, ?, ?, ?, ?) RETURNING aid"
)
_PG_SELECT = (
    "SELECT s.tenant, s.rule_id, s.key, s.active, s.since, s.due, s.data FROM rule_state s "
    "WHERE s.tenant = ANY($1::text[]) AND s.key = ANY($2::text[]) "
    "ORDER BY s.tenant, s.rule_id, s.key FOR UPDATE OF s"
)
_CHUNK = 500


@dataclass(slots=True)
class StoredRule:
    """A rule row."""

    tenant: str
    id: str
    doc: dict[str, Any]
    created_at: str
    modified_at: str


def _by_tenant(keys: list[Key]) -> dict[str, list[str]]:
    """The distinct row keys wanted, per tenant."""
    found: dict[str, set[str]] = {}
    for tenant, _rule, row_key in keys:
        found.setdefault(tenant, set()).add(row_key)
    return {t: sorted(v) for t, v in found.items()}


def _state(row: Any) -> State:
    return State(bool(row[0]), int(row[1]), None if row[2] is None else int(row[2]), _json(row[3]))


def _stored(row: Any) -> StoredRule:
    return StoredRule(str(row[0]), str(row[1]), _json(row[2]), str(row[3]), str(row[4]))


def _json(raw: Any) -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads(raw) if raw else {}
    return found


def _row(key: Key, s: State) -> tuple[Any, ...]:
    return (*key, int(s.active), s.since, s.due, orjson.dumps(s.data).decode())


def _action_row(a: Action, lease: float) -> tuple[Any, ...]:
    return (a.tenant, a.rule_id, a.op, a.at, orjson.dumps(a.body).decode(), lease)


class RuleStore:
    """Rules, rule state and pending actions, on the hub's storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.db = PlainSql(storage)

    # --- rules ---------------------------------------------------------------------------

    async def every(self) -> list[StoredRule]:
        """Every rule of every tenant."""
        rows = await self.db.rows(
            "SELECT tenant, id, doc, created_at, modified_at FROM rules ORDER BY created_at, id"
        )
        return [_stored(r) for r in rows]

    async def version(self) -> tuple[int, str]:
        """Changes whenever a rule is added, changed or removed (by any worker)."""
        rows = await self.db.rows("SELECT count(*), coalesce(max(modified_at), '') FROM rules")
        return int(rows[0][0]), str(rows[0][1])

    async def get(self, tenant: str, rule_id: str) -> StoredRule | None:
        """One rule."""
        rows = await self.db.rows(
            "SELECT tenant, id, doc, created_at, modified_at FROM rules "
            "WHERE tenant = ? AND id = ?",
            tenant,
            rule_id,
        )
        return (
            StoredRule(rows[0][0], rows[0][1], _json(rows[0][2]), rows[0][3], rows[0][4])
            if rows
            else None
        )

    async def insert(self, tenant: str, rule_id: str, doc: dict[str, Any]) -> None:
        """Add a rule (AlreadyExists if the id is taken in the tenant)."""
        now = now_iso()
        await self.db.run(
            [
                (
                    "INSERT INTO rules (tenant, id, doc, created_at, modified_at) "
                    "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM rules WHERE tenant = ? AND id = ?)",
                    (tenant, rule_id, orjson.dumps(doc).decode(), now, now, tenant, rule_id),
                )
            ],
            conflict=f"rule {rule_id} already exists",
        )

    async def replace(self, tenant: str, rule_id: str, doc: dict[str, Any], reset: bool) -> bool:
        """Overwrite a rule; with ``reset``, forget its conditions not yet active (their
        "holding since" belonged to the old definition). False if there is no such rule."""
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                "UPDATE rules SET doc = ?, modified_at = ? WHERE tenant = ? AND id = ?",
                (orjson.dumps(doc).decode(), now_iso(), tenant, rule_id),
            )
        ]
        if reset:
            statements.append(
                (
                    "DELETE FROM rule_state WHERE tenant = ? AND rule_id = ? AND active = 0 "
                    "AND key <> ''",
                    (tenant, rule_id),
                )
            )
        counts = await self.db.run(statements)
        return counts[0] == 1

    async def delete(self, tenant: str, rule_id: str) -> bool:
        """Remove a rule and its state (its open events stay for the operators)."""
        counts = await self.db.run(
            [
                ("DELETE FROM rules WHERE tenant = ? AND id = ?", (tenant, rule_id)),
                ("DELETE FROM rule_state WHERE tenant = ? AND rule_id = ?", (tenant, rule_id)),
            ]
        )
        return counts[0] == 1

    async def states(self, tenant: str, rule_id: str) -> list[tuple[str, State]]:
        """A rule's state rows (key, state), for showing it."""
        rows = await self.db.rows(
            "SELECT key, active, since, due, data FROM rule_state "
            "WHERE tenant = ? AND rule_id = ? ORDER BY key",
            tenant,
            rule_id,
        )
        return [(str(r[0]), _state(r[1:])) for r in rows]

    # --- state ---------------------------------------------------------------------------

    async def due(self, now: int, limit: int = 1000) -> list[Key]:
        """State rows whose periodic check is due at ``now`` (µs)."""
        rows = await self.db.rows(
            "SELECT tenant, rule_id, key FROM rule_state WHERE due IS NOT NULL AND due <= ? "
            "ORDER BY due LIMIT ?",
            now,
            limit,
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def step(
        self, keys: Iterable[Key], work: Callable[[Plan], None], cursor: Cursor | None
    ) -> list[Action]:
        """Load the state rows of every rule under the row keys of ``keys`` (their rule part
        is not looked at: the engine finds the rules that hold state for an entity in what is
        loaded), run ``work`` on them, write its plan (and move ``cursor``) in one transaction;
        the plan's actions, stored and leased to the caller."""
        wanted = sorted(set(keys))
        lease = time.time() + LEASE_S
        st = self.storage
        if isinstance(st, SQLiteStorage):

            def run(conn: sqlite3.Connection) -> list[Action]:
                if cursor is not None:
                    st.advance(conn, *cursor)
                loaded = {}
                for tenant, row_keys in _by_tenant(wanted).items():
                    for start in range(0, len(row_keys), _CHUNK):
                        chunk = row_keys[start : start + _CHUNK]
                        sql = _SELECT_KEYS.format(marks=",".join("?" * len(chunk)))
                        for rule_id, row_key, *rest in conn.execute(sql, [tenant, *chunk]):
                            loaded[(tenant, rule_id, row_key)] = _state(tuple(rest))
                plan = Plan(loaded)
                work(plan)
                for key, s in plan.changed.items():
                    if s is None:
                        conn.execute(_DELETE, key)
                    else:
                        conn.execute(_UPSERT, _row(key, s))
                for a in plan.actions:
                    a.aid = conn.execute(_ACTION, _action_row(a, lease)).fetchone()[0]
                return plan.actions

            done: list[Action] = await st.write(run)
            return done
        assert isinstance(st, PostgresStorage)
        async with st.transaction() as conn:
            if cursor is not None:
                await st.advance(conn, *cursor)
            tenants = sorted({k[0] for k in wanted})
            rows = await conn.fetch(_PG_SELECT, tenants, sorted({k[2] for k in wanted}))
            plan = Plan({(r[0], r[1], r[2]): _state(tuple(r)[3:]) for r in rows})
            work(plan)
            gone = [k for k, s in plan.changed.items() if s is None]
            kept = [_row(k, s) for k, s in plan.changed.items() if s is not None]
            if gone:
                await conn.executemany(numbered(_DELETE), gone)
            if kept:
                await conn.executemany(numbered(_UPSERT), kept)
            for a in plan.actions:
                a.aid = await conn.fetchval(numbered(_ACTION), *_action_row(a, lease))
        return plan.actions

    # --- actions -------------------------------------------------------------------------

    async def done(self, aid: int) -> None:
        """An action is done."""
        await self.db.run([("DELETE FROM rule_actions WHERE aid = ?", (aid,))])

    async def stale(self, limit: int = 100) -> list[Action]:
        """Actions whose lease ended (their worker stopped before doing them), leased anew
        to the caller, oldest first; one that failed 5 times is dropped."""
        now = time.time()
        rows = await self.db.rows(
            "SELECT aid, tenant, rule_id, op, at, body, claimed_until, attempts "
            "FROM rule_actions WHERE claimed_until < ? ORDER BY aid LIMIT ?",
            now,
            limit,
        )
        taken: list[Action] = []
        for r in rows:
            if int(r[7]) >= 5:
                await self.done(int(r[0]))
                continue
            (count,) = await self.db.run(
                [
                    (
                        "UPDATE rule_actions SET claimed_until = ?, attempts = attempts + 1 "
                        "WHERE aid = ? AND claimed_until = ?",
                        (now + LEASE_S, r[0], r[6]),
                    )
                ]
            )
            if count == 1:
                taken.append(Action(r[1], r[2], r[3], int(r[4]), _json(r[5]), int(r[0])))
        return taken
