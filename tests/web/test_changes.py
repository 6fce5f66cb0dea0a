"""The live entity-change feed of the map (/cityhub/v1/changes/stream): filters, type limits
of the principal, trimmed attributes; over a real socket with access control on."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cityhub.bus import Change
from cityhub.web.changes import ChangeFilter, frame
from tests.test_cli import Server
from tests.web.support import parking, prop, upsert

STREAM = "/cityhub/v1/changes/stream"
NS = "https://uri.etsi.org/ngsi-ld/default-context/"


# --- the filter and the frames (no server) ----------------------------------------------------


def _change(op: str = "update", touched: tuple[str, ...] = ("availableSpotNumber",)) -> Change:
    entity = {
        "type": [NS + "OffStreetParking"],
        "attrs": {
            NS + "availableSpotNumber": [{"type": "Property", "value": 7}],
            NS + "name": [{"type": "Property", "value": "lot"}],
            "https://uri.etsi.org/ngsi-ld/location": [
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.0, 37.4]}}
            ],
        },
    }
    return Change(
        9,
        "",
        "urn:ngsi-ld:OffStreetParking:1",
        op,
        "2026-01-01T00:00:00Z",
        entity,
        {NS + a: [] for a in touched},
    )


def test_filter_by_tenant_type_and_limit() -> None:
    types = frozenset({"OffStreetParking"})
    assert ChangeFilter().wants("", types)
    assert not ChangeFilter().wants("seoul", types)
    assert ChangeFilter(types=frozenset({"OffStreetParking", "X"})).wants("", types)
    assert not ChangeFilter(types=frozenset({"CCTVCamera"})).wants("", types)
    assert not ChangeFilter(limit=frozenset({"CCTVCamera"})).wants("", types)  # outside the grant
    assert not ChangeFilter(types=types, limit=frozenset({"CCTVCamera"})).wants("", types)


def test_trimmed_streams_skip_changes_they_do_not_show() -> None:
    wanted = ChangeFilter(attrs=frozenset({"availableSpotNumber"}))
    assert wanted.touched(_change())
    assert not wanted.touched(_change(touched=("name",)))
    assert wanted.touched(_change(touched=("location",)))  # the map must move it
    assert wanted.touched(_change(op="create", touched=()))
    assert ChangeFilter().touched(_change(touched=("name",)))


def test_frame_is_short_names_and_values() -> None:
    data = frame(_change(), None)
    head, body = data.decode().rstrip("\n").split("\ndata: ")
    assert head == "event: change\nid: 9"
    assert json.loads(body) == {
        "id": "urn:ngsi-ld:OffStreetParking:1",
        "type": "OffStreetParking",
        "op": "update",
        "availableSpotNumber": 7,
        "name": "lot",
        "location": {"type": "Point", "coordinates": [127.0, 37.4]},
    }
    trimmed = json.loads(
        frame(_change(), frozenset({"availableSpotNumber"})).decode().split("data: ")[1]
    )
    assert set(trimmed) == {"id", "type", "op", "availableSpotNumber", "location"}
    gone = json.loads(frame(_change(op="delete"), None).decode().split("data: ")[1])
    assert gone == {
        "id": "urn:ngsi-ld:OffStreetParking:1",
        "type": "OffStreetParking",
        "op": "delete",
    }


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """A hub with access control on, and login tokens: admin, a parking-only provider, a
    user of another tenant."""
    srv = Server("--data-dir", str(tmp_path_factory.mktemp("changes")), "--auth", "on")
    try:
        found = re.search(r"password: (\S+)", srv.output())
        assert found
        tokens = {"admin": _login(srv.url, "admin", found.group(1))}
        with httpx.Client(base_url=srv.url, headers=_auth(tokens["admin"])) as admin:
            for name, grant in (
                ("parkco", {"role": "consumer", "tenant": "", "types": ["OffStreetParking"]}),
                ("seoulop", {"role": "operator", "tenant": "seoul"}),
            ):
                r = admin.post(
                    "/cityhub/v1/users",
                    json={"name": name, "password": "pw-" + name * 2, "grants": [grant]},
                )
                assert r.status_code == 201, r.text
                tokens[name] = _login(srv.url, name, "pw-" + name * 2)
        yield srv, tokens
    finally:
        for client in _CLIENTS:
            client.close()
        srv.stop()


def _login(url: str, user: str, password: str) -> str:
    r = httpx.post(f"{url}/cityhub/v1/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


_CLIENTS: list[httpx.Client] = []


def _client(srv: Server, token: str) -> httpx.Client:
    """An API client, closed with the module's hub."""
    client = httpx.Client(base_url=srv.url, headers=_auth(token))
    _CLIENTS.append(client)
    return client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Listener:
    """A map's stream, read in a thread."""

    def __init__(self, url: str, params: dict[str, str], token: str) -> None:
        self.got: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, params, token), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the stream did not open"

    def _read(self, url: str, params: dict[str, str], token: str) -> None:
        try:
            with (
                httpx.Client(timeout=None) as c,
                c.stream("GET", url, params=params, headers=_auth(token)) as r,
            ):
                assert r.headers["content-type"].startswith("text/event-stream")
                self.ready.set()
                kind = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "change":
                        self.got.put(json.loads(line[6:]))
        except httpx.TransportError:
            pass  # the hub stopped

    def ids(self, wait_s: float = 1.5) -> list[str]:
        """The entity ids received within ``wait_s`` seconds (after the last one)."""
        out = []
        deadline = time.monotonic() + wait_s
        while True:
            try:
                out.append(self.got.get(timeout=max(0.01, deadline - time.monotonic()))["id"])
            except queue.Empty:
                return out

    def next(self, timeout_s: float = 5.0) -> dict[str, Any]:
        return self.got.get(timeout=timeout_s)


@pytest.mark.slow
def test_stream_follows_the_types_asked_for(hub: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = hub
    url = srv.url + STREAM
    lots = Listener(
        url,
        {"type": "OffStreetParking", "attrs": "availableSpotNumber,totalSpotNumber"},
        tokens["admin"],
    )
    everything = Listener(url, {}, tokens["admin"])
    admin = _client(srv, tokens["admin"])
    upsert(admin, [parking(1, 126.99, 37.43, 10, 100, "A")])
    cam = {"id": "urn:ngsi-ld:CCTVCamera:s1", "type": "CCTVCamera", "heading": prop(90)}
    assert admin.post("/ngsi-ld/v1/entities", json=cam).status_code == 201
    started = time.monotonic()
    r = admin.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:demo-1/attrs",
        json={"availableSpotNumber": prop(3)},
    )
    assert r.status_code == 204
    admin.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:demo-1/attrs", json={"name": prop("B")}
    )
    created = lots.next()
    assert (
        created["op"] == "create" and created["availableSpotNumber"] == 10 and "name" not in created
    )
    updated = lots.next()
    assert time.monotonic() - started < 2.0
    assert updated == {
        "id": "urn:ngsi-ld:OffStreetParking:demo-1",
        "type": "OffStreetParking",
        "op": "update",
        "availableSpotNumber": 3,
        "totalSpotNumber": 100,
        "location": {"type": "Point", "coordinates": [126.99, 37.43]},
    }
    assert lots.ids() == []  # the name change is not shown, cameras are not asked for
    assert everything.ids() == [
        "urn:ngsi-ld:OffStreetParking:demo-1",
        "urn:ngsi-ld:CCTVCamera:s1",
        "urn:ngsi-ld:OffStreetParking:demo-1",
        "urn:ngsi-ld:OffStreetParking:demo-1",
    ]
    assert admin.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:CCTVCamera:s1").status_code == 204
    assert everything.next()["op"] == "delete"


@pytest.mark.slow
def test_a_principal_sees_only_its_types_and_tenant(hub: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = hub
    url = srv.url + STREAM
    limited = Listener(url, {"type": "OffStreetParking,CCTVCamera"}, tokens["parkco"])
    unlimited = Listener(url, {}, tokens["admin"])
    admin = _client(srv, tokens["admin"])
    cam = {"id": "urn:ngsi-ld:CCTVCamera:s2", "type": "CCTVCamera", "heading": prop(10)}
    assert admin.post("/ngsi-ld/v1/entities", json=cam).status_code == 201
    upsert(admin, [parking(2, 126.98, 37.42, 5, 50, "C")])
    assert limited.ids() == ["urn:ngsi-ld:OffStreetParking:demo-2"]  # no camera: outside its grant
    assert unlimited.ids() == ["urn:ngsi-ld:CCTVCamera:s2", "urn:ngsi-ld:OffStreetParking:demo-2"]
    seoul = {**_auth(tokens["seoulop"]), "NGSILD-Tenant": "seoul"}
    with httpx.Client(base_url=srv.url, timeout=5) as c:
        assert c.get(STREAM, headers=_auth(tokens["seoulop"])).status_code == 403  # not its tenant
        assert c.get(STREAM).status_code == 401
        assert (
            c.get(
                STREAM, params={"type": ",".join(["T"] * 101)}, headers=_auth(tokens["admin"])
            ).status_code
            == 400
        )
        with c.stream("GET", STREAM, headers=seoul) as r:
            assert r.status_code == 200  # its own tenant: allowed (and quiet here)
