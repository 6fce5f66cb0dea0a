"""SQLite read queries: index narrowing, exact confirmation, pagination, ``near`` ordering.

Runs on a reader connection (a thread of the pool); see storage/base.py for the narrowing
shared with PostgreSQL.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson

from cityhub.ngsild import geo
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, entity_matches, near_distance
from cityhub.storage import base
from cityhub.storage.base import QueryResult

_CHUNK = 512
_NEAR_SLACK_M = 5.0  # R-tree boxes are float32 (about 1 m): allow for their rounding
_NEAR_SLACK = 0.005  # equirectangular vs great-circle distance, generous at city scale


def run_query(conn: sqlite3.Connection, tenant: str, query: EntityQuery) -> QueryResult:
    box = query.geo.search_bbox() if query.geo is not None else None
    narrowing = base.query_narrowing(query, driven=box is not None, interned=True)
    # "+e.tenant" keeps the planner off the tenant index unless ids drive the look-up
    tenant_clause = "e.tenant = ?" if query.ids is not None else "+e.tenant = ?"
    clauses = [tenant_clause, *narrowing.clauses]
    params: list[Any] = [tenant, *narrowing.params]
    near = query.geo is not None and query.geo.georel == "near"
    if box is not None and near and query.order_by is None:  # orderBy: base.paginate sorts
        return _near_query(conn, query, clauses, params, box)
    if box is not None and query.geo is not None:
        clauses.append(
            "e.pk IN (SELECT eid FROM geo_idx WHERE minx <= ? AND maxx >= ? "
            "AND miny <= ? AND maxy >= ? AND name = ?)"
        )
        params.extend([box[2], box[0], box[3], box[1], query.geo.geoproperty])
    where = " AND ".join(f"({c})" for c in clauses)
    exact = base.exact_in_sql(query)
    if exact:
        count = None
        if query.count:
            count = conn.execute(
                f"SELECT count(*) FROM entities e WHERE {where}", params
            ).fetchone()[0]
        rows = conn.execute(
            f"SELECT doc FROM entities e WHERE {where} ORDER BY e.pk LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        ).fetchall()
        return QueryResult([orjson.loads(r[0]) for r in rows], count)
    sql = f"SELECT pk, doc FROM entities e WHERE {where} AND e.pk > ? ORDER BY e.pk LIMIT ?"

    def candidates() -> Iterator[Entity]:
        last = -1
        while True:
            rows = conn.execute(sql, [*params, last, _CHUNK]).fetchall()
            for _pk, doc in rows:
                yield orjson.loads(doc)
            if len(rows) < _CHUNK:
                return
            last = rows[-1][0]

    return base.paginate(query, candidates())


def _near_query(
    conn: sqlite3.Connection,
    query: EntityQuery,
    clauses: list[str],
    params: list[Any],
    box: tuple[float, float, float, float],
) -> QueryResult:
    """``near`` queries: candidates ordered in SQL by distance to their R-tree box.

    The box distance (equirectangular, to the nearest point of the box) is a lower bound of the
    true distance up to a small slack, so documents are read nearest first and reading stops as
    soon as no unread candidate can enter the page: a near query costs about a page of
    documents, not every point within the distance (all of them only when a count is asked).
    """
    assert query.geo is not None
    qlon, qlat = (float(c) for c in query.geo.geometry["coordinates"][:2])
    where = " AND ".join(f"({c})" for c in clauses)
    k = math.radians(1) * geo.EARTH_RADIUS_M
    coslat = math.cos(math.radians(qlat))
    limit = query.geo.max_distance
    # the R-tree alone orders the candidates; tenant, types and q are checked (in SQL, then
    # exactly) only on the documents read, nearest first
    rows = conn.execute(
        "SELECT eid, lb FROM (SELECT eid, ? * sqrt("
        "  power((max(minx, min(maxx, ?)) - ?) * ?, 2)"
        "  + power(max(miny, min(maxy, ?)) - ?, 2)) AS lb "
        "FROM geo_idx WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ? AND name = ?) "
        "WHERE ? IS NULL OR lb <= ? ORDER BY lb",
        [
            k,
            qlon,
            qlon,
            coslat,
            qlat,
            qlat,
            box[2],
            box[0],
            box[3],
            box[1],
            query.geo.geoproperty,
            limit,
            None if limit is None else limit * (1 + _NEAR_SLACK) + _NEAR_SLACK_M,
        ],
    ).fetchall()
    # an entity with several geometries has a row for each: keep its nearest (the first)
    seen: set[int] = set()
    nearest_first = []
    for eid, lb in rows:
        if eid not in seen:
            seen.add(eid)
            nearest_first.append((eid, lb))
    need = query.offset + query.limit
    found: list[tuple[float, int, Entity]] = []
    start, size = 0, need + 8
    while start < len(nearest_first):
        chunk = nearest_first[start : start + size]
        if not query.count and len(found) >= need:
            kth = sorted(d for d, _, _ in found)[need - 1]
            if chunk[0][1] * (1 - _NEAR_SLACK) - _NEAR_SLACK_M > kth:
                break
        marks = ",".join("?" * len(chunk))
        docs = conn.execute(
            f"SELECT pk, doc FROM entities e WHERE e.pk IN ({marks}) AND {where}",
            [*(pk for pk, _ in chunk), *params],
        ).fetchall()
        for pk, doc in docs:
            entity = orjson.loads(doc)
            if entity_matches(query, entity):
                found.append((near_distance(query, entity), pk, entity))
        start += size
        size *= 2
    found.sort(key=lambda t: (t[0], t[1]))
    page = [e for _, _, e in found[query.offset : need]]
    return QueryResult(page, len(found) if query.count else None)
