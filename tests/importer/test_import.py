"""``cityhub import`` end to end into a SQLite data dir: the example, rejected rows, exit codes,
idempotency and resuming after an interruption."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from cityhub.importer import ImportFailed, ImportOptions, run_import
from cityhub.importer.sinks import DirectSink
from cityhub.settings import Settings
from tests.importer.conftest import (
    EXAMPLES,
    PARKING_MAPPING,
    cli,
    parking_csv,
    stored,
    value,
    write,
)


def test_example_parking_file(tmp_path: Path) -> None:
    data, rejects = tmp_path / "data", tmp_path / "rejects.csv"
    out = cli(
        EXAMPLES / "parking.csv",
        "--mapping",
        EXAMPLES / "parking.toml",
        "--data-dir",
        data,
        "--state",
        tmp_path / "state.json",
        "--rejects",
        rejects,
    )
    assert out.exit_code == 2, out.output
    assert "cityhub import: encoding cp949 (detected)" in out.stderr
    assert "32 rows: 30 imported, 2 rejected" in out.stdout
    assert "line 19: location: no coordinates (columns 경도 and 위도 are empty)" in out.stdout
    assert "line 29: column 주차구획수: '미정' is not an integer" in out.stdout
    assert "Traceback" not in out.output
    entities = stored(data)
    assert len(entities) == 30
    lot = entities["urn:ngsi-ld:OffStreetParking:41290-2-000001"]
    assert lot["type"] == ["https://uri.etsi.org/ngsi-ld/default-context/OffStreetParking"]
    assert value(lot, "name") == "과천시청공영주차장"
    assert value(lot, "totalSpotNumber") == 412
    assert value(lot, "category") == ["public", "feeCharged", "forDisabled"]
    assert value(lot, "address") == {
        "streetAddress": "경기도 과천시 관문로 69",
        "addressCountry": "KR",
    }
    assert value(lot, "ngsi-ld:location") == {
        "type": "Point",
        "coordinates": [126.987616, 37.429246],
    }
    assert value(lot, "dateModified") == {"@type": "DateTime", "@value": "2025-09-29T15:00:00Z"}
    assert value(lot, "openingHours") == ["Mo-Fr 00:00-23:59", "Sa 00:00-23:59", "PH 00:00-23:59"]
    with open(rejects, encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][:3] == ["line", "reason", "주차장관리번호"]
    assert [(r[0], r[1], r[2]) for r in table[1:]] == [
        ("19", "location: no coordinates (columns 경도 and 위도 are empty)", "41290-1-000027"),
        ("29", "column 주차구획수: '미정' is not an integer", "11440-2-000031"),
    ]
    assert all(len(r) == len(table[0]) for r in table)


def test_projected_and_geojson_examples(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = cli(
        EXAMPLES / "gwacheon-parking-5186.csv",
        "-m",
        EXAMPLES / "gwacheon-5186.toml",
        "--data-dir",
        data,
        "--state",
        tmp_path / "s1.json",
    )
    assert out.exit_code == 0, out.output
    out = cli(
        EXAMPLES / "onstreet-parking.geojson",
        "-m",
        EXAMPLES / "onstreet-parking.toml",
        "--data-dir",
        data,
        "--state",
        tmp_path / "s2.json",
    )
    assert out.exit_code == 0, out.output
    entities = stored(data)
    lon, lat = value(entities["urn:ngsi-ld:OffStreetParking:GC-5186-001"], "ngsi-ld:location")[
        "coordinates"
    ]
    assert abs(lon - 126.987616) < 1e-6 and abs(lat - 37.429246) < 1e-6  # Gwacheon City Hall
    zone = entities["urn:ngsi-ld:OnStreetParking:GC-ON-001"]
    assert value(zone, "ngsi-ld:location")["type"] == "Polygon"
    assert value(zone, "dateCreated") == {"@type": "Date", "@value": "2019-03-01"}
    assert "openingHours" not in str(entities["urn:ngsi-ld:OnStreetParking:GC-ON-003"]["attrs"])


def test_projected_geojson_file(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5186"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"k": "a"},
                "geometry": {"type": "Point", "coordinates": [200000, 600000]},
            },
            {
                "type": "Feature",
                "properties": {"k": "b"},
                "geometry": {"type": "LineString", "coordinates": [[200000, 600000], [1e12, 1e12]]},
            },
            {"type": "Feature", "properties": {"k": "c"}, "geometry": None},
        ],
    }
    path = write(tmp_path / "p.geojson", json.dumps(doc))
    mapping = write(tmp_path / "m.toml", 'type = "T"\nid = "urn:ngsi-ld:T:{k}"\n[location]\n')
    data = tmp_path / "data"
    out = cli(path, "-m", mapping, "--data-dir", data)
    assert out.exit_code == 2, out.output
    assert "item 3: location: the feature has no geometry" in out.stdout
    assert "item 2: location:" in out.stdout
    (entity,) = stored(data).values()
    lon, lat = value(entity, "ngsi-ld:location")["coordinates"]
    assert abs(lon - 127.0) < 1e-7 and abs(lat - 38.0) < 1e-7


def test_ngsi_ld_json_normalized_and_key_values(tmp_path: Path) -> None:
    items = [
        {
            "id": "urn:ngsi-ld:Sensor:1",
            "type": "Sensor",
            "temperature": 21.5,
            "location": {"type": "Point", "coordinates": [126.98, 37.43]},
        },
        {
            "id": "urn:ngsi-ld:Sensor:2",
            "type": "Sensor",
            "temperature": {"type": "Property", "value": 19, "unitCode": "CEL"},
        },
        {"type": "Sensor"},
        {
            "id": "urn:ngsi-ld:Sensor:3",
            "type": "Sensor",
            "owner": {"type": "Relationship", "object": "not a uri"},
        },
    ]
    path = write(tmp_path / "sensors.json", json.dumps(items))
    data = tmp_path / "data"
    out = cli(path, "--data-dir", data, "--tenant", "gwacheon")
    assert out.exit_code == 2, out.output
    assert "item 3: the entity has no id" in out.stdout
    assert (
        "item 4: BadRequestData: attribute 'owner': a Relationship needs an object that is a URI"
        in out.stdout
    )
    assert "refused by the hub: BadRequestData" in out.stdout
    entities = stored(data, "gwacheon")
    assert sorted(entities) == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    assert value(entities["urn:ngsi-ld:Sensor:1"], "temperature") == 21.5
    out = cli(path, "--data-dir", data, "-m", EXAMPLES / "parking.toml")
    assert out.exit_code == 1 and "leave out --mapping" in out.stderr


def test_import_twice_is_idempotent(tmp_path: Path) -> None:
    data, mapping = tmp_path / "data", write(tmp_path / "m.toml", PARKING_MAPPING)
    path = write(tmp_path / "p.csv", parking_csv(25), "cp949")
    first = cli(path, "-m", mapping, "--data-dir", data, "--batch-size", "4")
    assert first.exit_code == 0, first.output
    again = cli(path, "-m", mapping, "--data-dir", data)
    assert again.exit_code == 0
    assert "is already imported into" in again.stdout and "--force imports it again" in again.stdout
    forced = cli(path, "-m", mapping, "--data-dir", data, "--force", "--batch-size", "7")
    assert forced.exit_code == 0 and "25 rows: 25 imported" in forced.stdout
    # a fresh state (another machine, a deleted state file): still no duplicates
    other = cli(path, "-m", mapping, "--data-dir", data, "--state", tmp_path / "other.json")
    assert other.exit_code == 0 and "25 imported" in other.stdout
    entities = stored(data)
    assert len(entities) == 25
    assert value(entities["urn:ngsi-ld:OffStreetParking:P-00007"], "totalSpotNumber") == 17


def test_changed_file_or_mapping_imports_again(tmp_path: Path) -> None:
    data, mapping = tmp_path / "data", write(tmp_path / "m.toml", PARKING_MAPPING)
    path = write(tmp_path / "p.csv", parking_csv(5))
    assert cli(path, "-m", mapping, "--data-dir", data).exit_code == 0
    write(path, parking_csv(6))
    out = cli(path, "-m", mapping, "--data-dir", data)
    assert "the file changed since the last import" in out.stderr
    assert "6 rows: 6 imported" in out.stdout
    write(mapping, PARKING_MAPPING.replace('"public"', '"publicParking"'))
    out = cli(path, "-m", mapping, "--data-dir", data)
    assert "6 rows: 6 imported" in out.stdout
    entities = stored(data)
    assert len(entities) == 6
    assert value(entities["urn:ngsi-ld:OffStreetParking:P-00001"], "category") == ["publicParking"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{csv}", "-m", "{dir}/nope.toml"],
            "cannot read mapping file {dir}/nope.toml: No such file",
        ),
        (["{csv}", "-m", "{bad_mapping}"], "[attributes.n] type must be one of"),
        (["{dir}/nope.csv", "-m", "{mapping}"], "cannot read {dir}/nope.csv"),
        (["{csv}"], "a CSV file needs --mapping FILE"),
        (["{csv}", "-m", "{other_mapping}"], "uses column '관리번호', which {csv} does not have"),
        (
            ["{csv}", "-m", "{mapping}", "--url", "http://x", "--data-dir", "{dir}/d"],
            "give either --url",
        ),
        (
            ["{csv}", "-m", "{mapping}", "--database", "mysql://root@h/db"],
            "bad database URL 'mysql://root@h/db'",
        ),
        (
            ["{csv}", "-m", "{mapping}", "--url", "http://127.0.0.1:9"],
            "cannot reach the hub at http://127.0.0.1:9",
        ),
        (
            ["{csv}", "-m", "{mapping}", "--tenant", "a b", "--data-dir", "{dir}/d"],
            "invalid tenant 'a b'",
        ),
        (["{csv}", "-m", "{mapping}", "--batch-size", "0"], "--batch-size must be at least 1"),
        (
            ["{csv}", "-m", "{mapping}", "--encoding", "utf-8", "--dry-run"],
            "line 1 is not valid utf-8",
        ),
    ],
)
def test_fatal_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    names = {
        "dir": str(tmp_path),
        "csv": str(write(tmp_path / "p.csv", parking_csv(3), "cp949")),
        "mapping": str(write(tmp_path / "m.toml", PARKING_MAPPING)),
        "bad_mapping": str(
            write(
                tmp_path / "bad.toml",
                PARKING_MAPPING + '[attributes.n]\ncolumn = "a"\ntype = "int"\n',
            )
        ),
        "other_mapping": str(
            write(
                tmp_path / "o.toml",
                'type = "T"\nid = "urn:x:{관리번호}"\n[attributes.a]\nvalue = 1\n',
            )
        ),
    }
    out = cli(*(a.format(**names) for a in args))
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("cityhub import: error:")]
    assert len(lines) == 1 and message.format(**names) in lines[0], out.stderr


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.csv", parking_csv(12, {3: "P-3,x,공영,many,유료,37.5,127.0,2025-09-30"})
    )
    mapping = write(tmp_path / "m.toml", PARKING_MAPPING)
    out = cli(path, "-m", mapping, "--dry-run", "--data-dir", tmp_path / "data")
    assert out.exit_code == 2 and "12 rows: 11 imported, 1 rejected" in out.stdout
    assert "into nowhere (dry run)" in out.stdout
    assert not (tmp_path / "data").exists() and not list(tmp_path.glob("*.import-state.json"))


# --- resuming ----------------------------------------------------------------------------


class CrashingSink(DirectSink):
    """Writes the first ``ok`` batches, then fails as a lost database connection would."""

    def __init__(self, data: Path, ok: int) -> None:
        super().__init__(Settings(data_dir=str(data), sqlite_synchronous="NORMAL"))
        self.ok = ok
        self.calls = 0
        self.written: list[str] = []

    async def write(self, tenant: str, entities: list[dict[str, Any]]) -> list[tuple[str, str]]:
        self.calls += 1
        if self.ok >= 0 and self.calls > self.ok:
            raise ImportFailed("the database went away (simulated)")
        self.written += [e["id"] for e in entities]
        return await super().write(tenant, entities)


BAD = {
    7: "P-00007,주차장7,공영,미정,유료,37.5,127.0,2025-09-30",
    33: "P-00033,주차장33,공영,5,유료,,,2025-09-30",
}


def test_interrupted_import_resumes_where_it_stopped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write(tmp_path / "p.csv", parking_csv(50, BAD), "cp949")
    mapping = write(tmp_path / "m.toml", PARKING_MAPPING)
    rejects = tmp_path / "rejects.csv"
    opts = ImportOptions(
        str(path), str(mapping), batch_size=10, concurrency=1, rejects=str(rejects)
    )
    crash = CrashingSink(data, ok=3)
    with pytest.raises(ImportFailed, match="simulated"):
        run_import(opts, sink=crash)
    assert crash.written[0] == "urn:ngsi-ld:OffStreetParking:P-00001"
    assert len(stored(data)) == 29  # 3 batches of 10 rows, one of them rejected
    state = json.loads(Path(str(path) + ".import-state.json").read_text())
    (progress,) = state["imports"].values()
    assert progress["rows"] == 30 and not progress["complete"]

    again = CrashingSink(data, ok=-1)
    notes: list[str] = []
    result = run_import(opts, sink=again, note=notes.append)
    assert result.start_row == 30  # K batches × batch size
    assert "resuming: 30 rows were taken by an earlier run, starting after them" in notes
    assert again.written[0] == "urn:ngsi-ld:OffStreetParking:P-00031"
    assert len(again.written) == 19  # rows 31..50 but row 33 (no coordinates)
    assert (result.rows, result.imported, result.rejected) == (20, 19, 1)
    assert (result.total_rows, result.total_imported, result.total_rejected) == (50, 48, 2)
    assert result.exit_code == 2
    entities = stored(data)
    assert sorted(entities) == sorted(
        f"urn:ngsi-ld:OffStreetParking:P-{i:05d}" for i in range(1, 51) if i not in BAD
    )
    with open(rejects, encoding="utf-8-sig", newline="") as fh:
        lines = [r[0] for r in csv.reader(fh)]
    assert lines == ["line", "8", "34"]  # each rejected row once, across both runs
    assert run_import(opts, sink=CrashingSink(data, ok=-1)).already_imported


def test_resume_with_batches_in_flight(tmp_path: Path) -> None:
    # with several batches in flight they may finish out of order; the state only moves over
    # batches whose predecessors are all committed, so no row is skipped on the re-run
    data = tmp_path / "data"
    path = write(tmp_path / "p.csv", parking_csv(200))
    mapping = write(tmp_path / "m.toml", PARKING_MAPPING)
    opts = ImportOptions(str(path), str(mapping), batch_size=7, concurrency=4)
    with pytest.raises(ImportFailed):
        run_import(opts, sink=CrashingSink(data, ok=9))
    state = json.loads(Path(str(path) + ".import-state.json").read_text())
    (progress,) = state["imports"].values()
    assert progress["rows"] % 7 == 0 and progress["rows"] <= 9 * 7
    result = run_import(opts, sink=CrashingSink(data, ok=-1))
    assert result.start_row == progress["rows"]
    assert len(stored(data)) == 200 and result.total_imported == 200


def test_verbose_summary(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", parking_csv(3))
    mapping = write(tmp_path / "m.toml", PARKING_MAPPING)
    out = cli(path, "-m", mapping, "--data-dir", tmp_path / "d", "-v", "--quiet")
    assert out.exit_code == 0
    assert "peak memory (RSS)" in out.stdout and "resume state:" in out.stdout
    assert out.stderr == ""
