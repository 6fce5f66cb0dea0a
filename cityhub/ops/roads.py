"""Fire-engine routes over the city's road network, for 119 emergency dispatch.

:class:`RoadNetwork` turns ``RoadSegment`` entities (already simplified to plain dicts) into a
directed networkx graph: one edge per pair of consecutive vertices, weighted by its haversine
length, with the segment's id, name and width kept on it. Segments meet wherever vertices coincide
after rounding to 1e-6 degrees (about 0.1 m); a ``oneWay`` segment only has edges in coordinate
order. :meth:`RoadNetwork.route` snaps both ends onto the nearest point of the nearest edge (not
the nearest vertex) and runs Dijkstra; the :class:`Route` lists the segments driven, in order, and
the narrow ones. :func:`along` finds hydrants, illegally parked vehicles or anything else with a
Point near a route, and :func:`nearest_by_route` picks the fire station closest by road rather
than by air.

Metric geometry (snapping, distances to a line) is done in an azimuthal equidistant projection
centred on the data, on the same sphere as :func:`cityhub.ngsild.geo.haversine_m`, so offsets
along a route add up to its length. Everything here is a pure function of its input: no database
and no global cache (the caller keeps the network and rebuilds it when the roads change).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

import networkx as nx
import numpy as np
import shapely
from pyproj import Transformer

from cityhub.errors import BadRequestData
from cityhub.ngsild import geo

LonLat = tuple[float, float]

#: decimals kept of a vertex's lon/lat: 1e-6 degrees is about 0.1 m, so digitising noise below
#: that still joins two segments
NODE_DECIMALS: Final = 6
#: a place farther than this from every road is not reachable by road
DEFAULT_MAX_SNAP_M: Final = 500.0
#: a fire engine needs about 3 m to pass; below 4 m one parked car can block it
DEFAULT_NARROW_BELOW_M: Final = 4.0

# A snap this close to an edge's end is at that node (the tolerance of vertex rounding): a start
# on the tail of a one-way edge may still leave by the other roads meeting there.
_AT_NODE_M: Final = 0.1
_START: Final = "start"  # virtual nodes; real nodes are (lon, lat) tuples, so no clash
_END: Final = "end"


@dataclass(frozen=True, slots=True)
class Route:
    """A drivable route: its length, GeoJSON line, and the road segments it uses in order."""

    length_m: float
    #: GeoJSON LineString from the snapped start to the snapped end
    geometry: dict[str, Any]
    #: ``{"id", "name", "width", "length"}`` per segment driven; consecutive edges merged
    segments: list[dict[str, Any]]
    #: the entries of ``segments`` narrower than the threshold (unknown width is not narrow)
    narrow: list[dict[str, Any]]
    #: metres from the requested start and end to where they were snapped onto the network
    snap_m: tuple[float, float]

    def eta_s(self, speed_kmh: float) -> float:
        """Travel time in seconds at an average speed of ``speed_kmh``."""
        if not speed_kmh > 0:
            raise BadRequestData(f"speed must be positive, got {speed_kmh} km/h")
        return round(self.length_m / (speed_kmh / 3.6), 1)


@dataclass(frozen=True, slots=True)
class _Edge:
    """One piece of a segment between two consecutive vertices, in coordinate order."""

    u: LonLat
    v: LonLat
    length: float
    backward: bool  # drivable from v to u too (u to v always is)
    info: dict[str, Any]  # segment, name, width: the attributes every graph edge carries


@dataclass(frozen=True, slots=True)
class _Snap:
    edge: _Edge
    t: float  # fraction of the edge from u to the snapped point
    point: LonLat
    distance: float

    def exits(self) -> list[tuple[LonLat, float]]:
        """Nodes reachable from the snapped point along its edge, with the distance to each."""
        e, to_u, to_v = self.edge, self.t * self.edge.length, (1 - self.t) * self.edge.length
        out = [(e.v, to_v)]  # u -> v is always allowed
        if e.backward or to_u < _AT_NODE_M:
            out.append((e.u, to_u))
        return out

    def entries(self) -> list[tuple[LonLat, float]]:
        """Nodes from which the snapped point is reached along its edge, with the distance."""
        e, to_u, to_v = self.edge, self.t * self.edge.length, (1 - self.t) * self.edge.length
        out = [(e.u, to_u)]
        if e.backward or to_v < _AT_NODE_M:
            out.append((e.v, to_v))
        return out


class RoadNetwork:
    """A routable road graph built from RoadSegment dicts; safe to share between threads."""

    def __init__(self, graph: Any, edges: list[_Edge], skipped: list[str]) -> None:
        self._graph = graph
        self._edges = edges
        #: ids of segments without a usable LineString/MultiLineString geometry
        self.skipped = skipped
        # Routing adds two virtual nodes to the graph for the split edges and removes them
        # again; the lock keeps concurrent routes from seeing each other's.
        self._lock = threading.Lock()
        self._tree: shapely.STRtree | None = None
        self._geoms: Any = None
        if edges:
            ends = np.array([(e.u, e.v) for e in edges], dtype=float)  # (n, 2 ends, lon/lat)
            lon0 = (ends[..., 0].min() + ends[..., 0].max()) / 2
            lat0 = (ends[..., 1].min() + ends[..., 1].max()) / 2
            self._to_xy = _local_projection(float(lon0), float(lat0))
            xs, ys = self._to_xy.transform(ends[..., 0], ends[..., 1])
            self._geoms = shapely.linestrings(np.stack([xs, ys], axis=-1))
            self._tree = shapely.STRtree(self._geoms)

    @classmethod
    def from_segments(cls, segments: Iterable[dict[str, Any]]) -> RoadNetwork:
        """Build the network; segments without a line geometry are skipped (see ``skipped``)."""
        edges: list[_Edge] = []
        directed: dict[tuple[LonLat, LonLat], _Edge] = {}  # what the graph gets, per direction
        skipped: list[str] = []
        for segment in segments:
            lines = _lines(segment.get("location")) if isinstance(segment, dict) else []
            if not lines:
                skipped.append(str(segment.get("id") if isinstance(segment, dict) else segment))
                continue
            info = {"segment": segment.get("id"), "name": _text(segment.get("name"))}
            info["width"] = _width(segment.get("width"))
            backward = segment.get("oneWay") is not True
            for line in lines:
                for u, v in itertools.pairwise(line):
                    edge = _Edge(u, v, geo.haversine_m(*u, *v), backward, info)
                    edges.append(edge)
                    _keep_shorter(directed, (u, v), edge)
                    if backward:
                        _keep_shorter(directed, (v, u), edge)
        graph = nx.DiGraph()
        graph.add_edges_from(
            (u, v, {"weight": edge.length, **edge.info}) for (u, v), edge in directed.items()
        )
        return cls(graph, edges, skipped)

    @property
    def graph(self) -> Any:
        """The networkx DiGraph (nodes are rounded (lon, lat)); read it, do not change it."""
        return self._graph

    def route(
        self,
        start: Sequence[float],
        end: Sequence[float],
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        narrow_below_m: float = DEFAULT_NARROW_BELOW_M,
    ) -> Route | None:
        """The shortest route from ``start`` to ``end`` (lon, lat), or None if there is none."""
        if self._tree is None:
            raise BadRequestData("no road segment with a LineString geometry to route on")
        a = self._snap(start, max_snap_m)
        b = self._snap(end, max_snap_m)
        if a is None or b is None:
            return None
        graph = self._graph
        with self._lock:
            try:
                for node, dist in a.exits():
                    graph.add_edge(_START, node, weight=dist, **a.edge.info)
                for node, dist in b.entries():
                    graph.add_edge(node, _END, weight=dist, **b.edge.info)
                if a.edge is b.edge and (a.t <= b.t or a.edge.backward):
                    length = abs(b.t - a.t) * a.edge.length
                    graph.add_edge(_START, _END, weight=length, **a.edge.info)
                try:
                    total, path = nx.bidirectional_dijkstra(graph, _START, _END, weight="weight")
                except nx.NetworkXNoPath:
                    return None
                legs = [graph.edges[p, q] for p, q in itertools.pairwise(path)]
            finally:
                graph.remove_nodes_from((_START, _END))
        coords = [a.point, *path[1:-1], b.point]
        return _route(float(total), coords, legs, (a.distance, b.distance), narrow_below_m)

    def _snap(self, position: Sequence[float], max_snap_m: float) -> _Snap | None:
        lon, lat = _checked(position)
        assert self._tree is not None
        x, y = self._to_xy.transform(lon, lat)
        point = shapely.Point(x, y)
        found, dists = self._tree.query_nearest(
            point, max_distance=max_snap_m, return_distance=True
        )
        if len(found) == 0:
            return None
        i = int(found[0])
        edge = self._edges[i]
        t = float(shapely.line_locate_point(self._geoms[i], point, normalized=True))
        # On a crossing: be exactly there, so no sliver of the snapped edge is driven or drawn.
        if t * edge.length < _AT_NODE_M:
            return _Snap(edge, 0.0, edge.u, float(dists[0]))
        if (1 - t) * edge.length < _AT_NODE_M:
            return _Snap(edge, 1.0, edge.v, float(dists[0]))
        at = (edge.u[0] + t * (edge.v[0] - edge.u[0]), edge.u[1] + t * (edge.v[1] - edge.u[1]))
        return _Snap(edge, t, (round(at[0], 7), round(at[1], 7)), float(dists[0]))


def along(
    route: Route, features: Iterable[dict[str, Any]], within_m: float
) -> list[dict[str, Any]]:
    """Features with a Point within ``within_m`` metres of the route, ordered along it."""
    coords = np.array(route.geometry["coordinates"], dtype=float)
    kept: list[dict[str, Any]] = []
    points: list[LonLat] = []
    for feature in features:
        point = _point(feature)
        if point is not None:
            kept.append(feature)
            points.append(point)
    if not kept:
        return []
    lon0 = (coords[:, 0].min() + coords[:, 0].max()) / 2
    lat0 = (coords[:, 1].min() + coords[:, 1].max()) / 2
    to_xy = _local_projection(float(lon0), float(lat0))
    line = shapely.linestrings(np.stack(to_xy.transform(coords[:, 0], coords[:, 1]), axis=-1))
    at = np.array(points, dtype=float)
    xy = shapely.points(np.stack(to_xy.transform(at[:, 0], at[:, 1]), axis=-1))
    distances = shapely.distance(line, xy)
    offsets = shapely.line_locate_point(line, xy)
    near = [
        {**feature, "distance": round(float(d), 1), "offset": round(float(o), 1)}
        for feature, d, o in zip(kept, distances, offsets, strict=True)
        if d <= within_m
    ]
    near.sort(key=lambda f: (f["offset"], f["distance"]))
    return near


def nearest_by_route(
    network: RoadNetwork,
    candidates: Iterable[dict[str, Any]],
    scene: Sequence[float],
    limit: int = 3,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    narrow_below_m: float = DEFAULT_NARROW_BELOW_M,
) -> list[tuple[dict[str, Any], Route]]:
    """The ``limit`` candidates nearest in a straight line, routed to ``scene``, shortest first."""
    lon, lat = _checked(scene)
    located = (
        (geo.haversine_m(point[0], point[1], lon, lat), i, point, candidate)
        for i, candidate in enumerate(candidates)
        if (point := _point(candidate)) is not None
    )
    found: list[tuple[dict[str, Any], Route]] = []
    for _, _, point, candidate in heapq.nsmallest(max(limit, 0), located):
        route = network.route(
            point, (lon, lat), max_snap_m=max_snap_m, narrow_below_m=narrow_below_m
        )
        if route is not None:
            found.append((candidate, route))
    found.sort(key=lambda pair: pair[1].length_m)
    return found


def _route(
    total: float,
    coords: list[LonLat],
    legs: list[dict[str, Any]],
    snap_m: tuple[float, float],
    narrow_below_m: float,
) -> Route:
    segments: list[dict[str, Any]] = []
    for leg in legs:
        if leg["weight"] == 0:  # a snap exactly on a node: nothing of that segment is driven
            continue
        if segments and segments[-1]["id"] == leg["segment"]:
            segments[-1]["length"] += leg["weight"]
        else:
            segments.append(
                {
                    "id": leg["segment"],
                    "name": leg["name"],
                    "width": leg["width"],
                    "length": leg["weight"],
                }
            )
    for segment in segments:
        segment["length"] = round(segment["length"], 1)
    line = [list(p) for i, p in enumerate(coords) if i == 0 or p != coords[i - 1]]
    if len(line) == 1:  # start and end snapped to one point; GeoJSON needs two positions
        line.append(line[0])
    narrow = [s for s in segments if s["width"] is not None and s["width"] < narrow_below_m]
    return Route(
        length_m=round(total, 1),
        geometry={"type": "LineString", "coordinates": line},
        segments=segments,
        narrow=narrow,
        snap_m=(round(snap_m[0], 1), round(snap_m[1], 1)),
    )


def _keep_shorter(
    directed: dict[tuple[LonLat, LonLat], _Edge], key: tuple[LonLat, LonLat], edge: _Edge
) -> None:
    # Two segments over the same two vertices: keep the shorter, the one Dijkstra would take.
    known = directed.get(key)
    if known is None or edge.length < known.length:
        directed[key] = edge


def _local_projection(lon0: float, lat0: float) -> Transformer:
    """lon/lat to metres around (lon0, lat0), on the sphere that ``haversine_m`` uses."""
    sphere = f"+R={geo.EARTH_RADIUS_M} +no_defs"
    return Transformer.from_crs(
        f"+proj=longlat {sphere}",
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +units=m {sphere}",
        always_xy=True,
    )


def _lines(geometry: object) -> list[list[LonLat]]:
    """The rounded vertex lists of a LineString/MultiLineString; [] if it is anything else."""
    if not isinstance(geometry, dict):
        return []
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "LineString":
        parts = [coordinates]
    elif kind == "MultiLineString" and isinstance(coordinates, list):
        parts = coordinates
    else:
        return []
    lines: list[list[LonLat]] = []
    for part in parts:
        if not isinstance(part, list) or len(part) < 2:
            return []
        line: list[LonLat] = []
        for position in part:
            lonlat = _position(position)
            if lonlat is None:
                return []
            node = (round(lonlat[0], NODE_DECIMALS), round(lonlat[1], NODE_DECIMALS))
            if not line or line[-1] != node:
                line.append(node)
        if len(line) >= 2:
            lines.append(line)
    return lines


def _point(feature: object) -> LonLat | None:
    location = feature.get("location") if isinstance(feature, dict) else None
    if not isinstance(location, dict) or location.get("type") != "Point":
        return None
    return _position(location.get("coordinates"))


def _position(value: object) -> LonLat | None:
    if not isinstance(value, list | tuple) or len(value) < 2:
        return None
    lon, lat = value[0], value[1]
    if not (_is_number(lon) and _is_number(lat)):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return float(lon), float(lat)


def _checked(position: Sequence[float]) -> LonLat:
    lonlat = _position(tuple(position))
    if lonlat is None:
        raise BadRequestData(f"not a WGS 84 (lon, lat) position: {position!r}")
    return lonlat


def _width(value: object) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)  # True is no width


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
