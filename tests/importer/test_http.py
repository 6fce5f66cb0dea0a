"""The HTTP sink against a real ``cityhub serve`` process: NGSI-LD batch upsert, tenant,
per-entity refusals from the 207 report, a body split to fit the hub's limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cityhub.importer import ImportOptions, run_import
from cityhub.importer.sinks import HttpSink
from tests.importer.conftest import EXAMPLES, PARKING_MAPPING, cli, parking_csv, write
from tests.test_cli import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server("--data-dir", str(tmp_path_factory.mktemp("hub")))
    yield srv
    srv.stop()


def count(hub: Server, tenant: str, entity_type: str) -> int:
    r = httpx.get(
        hub.url + "/ngsi-ld/v1/entities",
        params={"type": entity_type, "count": "true", "limit": "0"},
        headers={"NGSILD-Tenant": tenant} if tenant else {},
    )
    assert r.status_code == 200, r.text
    return int(r.headers["NGSILD-Results-Count"])


def test_example_into_a_running_hub(hub: Server, tmp_path: Path) -> None:
    args: list[str | Path] = [EXAMPLES / "parking.csv", "-m", EXAMPLES / "parking.toml"]
    args += ["--url", hub.url]
    args += ["--tenant", "gwacheon", "--state", tmp_path / "s.json", "--batch-size", "8"]
    out = cli(*args)
    assert out.exit_code == 2, out.output
    assert f"into {hub.url}, tenant gwacheon" in out.stdout
    assert "32 rows: 30 imported, 2 rejected" in out.stdout
    assert count(hub, "gwacheon", "OffStreetParking") == 30
    r = httpx.get(
        hub.url + "/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:41290-2-000001",
        params={"options": "keyValues"},
        headers={"NGSILD-Tenant": "gwacheon"},
    )
    body = r.json()
    assert body["totalSpotNumber"] == 412 and body["name"] == "과천시청공영주차장"
    assert body["location"] == {"type": "Point", "coordinates": [126.987616, 37.429246]}
    # again, forced: upserts, no duplicates
    again = cli(*args, "--force")
    assert again.exit_code == 2 and "30 imported" in again.stdout
    assert count(hub, "gwacheon", "OffStreetParking") == 30


def test_refusals_from_the_207_report(hub: Server, tmp_path: Path) -> None:
    items = [
        {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "reading": 5},
        {
            "id": "urn:ngsi-ld:Meter:2",
            "type": "Meter",
            "owner": {"type": "Relationship", "object": "nope"},
        },
        {
            "id": "urn:ngsi-ld:Meter:3",
            "type": "Meter",
            "reading": {"type": "Property", "value": 7, "unitCode": "KWH"},
        },
        {
            "id": "urn:ngsi-ld:Meter:4",
            "type": "Meter",
            "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
        },
    ]
    path = write(tmp_path / "meters.json", json.dumps(items))
    rejects = tmp_path / "rejects.csv"
    out = cli(path, "--url", hub.url, "--tenant", "meters", "--rejects", rejects)
    assert out.exit_code == 2, out.output
    assert (
        "item 2: BadRequestData: attribute 'owner': a Relationship needs an object that is a URI"
        in out.stdout
    )
    assert count(hub, "meters", "Meter") == 3
    assert "urn:ngsi-ld:Meter:2" in rejects.read_text(encoding="utf-8-sig")


def test_large_batches_are_split_to_fit(hub: Server, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", parking_csv(60))
    mapping = write(tmp_path / "m.toml", PARKING_MAPPING)
    sink = HttpSink(hub.url, max_body=64 * 1024 + 6000)  # about 20 entities a request
    opts = ImportOptions(str(path), str(mapping), tenant="split", batch_size=60)
    result = run_import(opts, sink=sink)
    assert result.imported == 60 and sink.requests >= 3
    assert count(hub, "split", "OffStreetParking") == 60


def test_environment_url(hub: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_URL", hub.url)
    path = write(tmp_path / "p.csv", parking_csv(3))
    out = cli(path, "-m", write(tmp_path / "m.toml", PARKING_MAPPING), "--tenant", "env")
    assert out.exit_code == 0, out.output
    assert count(hub, "env", "OffStreetParking") == 3
