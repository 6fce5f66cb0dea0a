"""Reading inputs: CSV encodings (CP949 detected), line numbers, JSON read piece by piece."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityhub.importer import sources
from cityhub.importer.errors import ImportFailed
from cityhub.importer.sources import detect_encoding, detect_format, open_source
from tests.importer.conftest import EXAMPLES, write

CSV_TEXT = '번호,이름,주소\n1,세종로공영주차장,서울특별시 종로구\n2,"과천, 중앙",경기도 과천시\n'


def rows(path: Path, **kw: str) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    src = open_source(str(path), "csv", **kw)
    try:
        return src.columns, list(src.records), src.encoding_note
    finally:
        src.close()


def test_cp949_is_detected(tmp_path: Path) -> None:
    columns, records, note = rows(write(tmp_path / "a.csv", CSV_TEXT, "cp949"))
    assert columns == ["번호", "이름", "주소"]
    assert records[1] == (3, ["2", "과천, 중앙", "경기도 과천시"])
    assert note == "encoding cp949 (detected)"


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    for name, enc in (("bom.csv", "utf-8-sig"), ("plain.csv", "utf-8")):
        columns, records, note = rows(write(tmp_path / name, CSV_TEXT, enc))
        assert columns[0] == "번호"  # no BOM in the first column's name
        assert note == "encoding utf-8 (detected)"
        assert len(records) == 2


def test_given_encoding_and_its_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", CSV_TEXT, "cp949")
    _, records, note = rows(path, encoding="euc-kr")
    assert note == "encoding euc-kr (given)" and records[0][1][1] == "세종로공영주차장"
    with pytest.raises(ImportFailed, match=r"line 1 is not valid utf-8 \(byte 1 of the line\)"):
        rows(path, encoding="utf-8")
    with pytest.raises(ImportFailed, match="unknown encoding 'klingon'"):
        rows(path, encoding="klingon")


def test_detection_sample_then_a_bad_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the sample looks like UTF-8; a CP949 line further on is a fatal error naming the line
    monkeypatch.setattr(sources, "_SAMPLE", 16)
    text = "a,b\n" + "1,x\n" * 10
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode() + "3,주차\n".encode("cp949"))
    with pytest.raises(ImportFailed, match="line 12 is not valid utf-8"):
        rows(path)


def test_neither_utf8_nor_cp949() -> None:
    assert detect_encoding("주".encode("cp949")[:1], complete=False) == "cp949"
    with pytest.raises(ImportFailed, match="neither UTF-8 nor CP949"):
        detect_encoding(b"\xff\xff\xff", complete=True)


def test_multiline_fields_keep_their_start_line(tmp_path: Path) -> None:
    text = 'id,note\n1,"two\nlines"\n\n2,x\n'
    _, records, _ = rows(write(tmp_path / "m.csv", text))
    assert records == [(2, ["1", "two\nlines"]), (5, ["2", "x"])]


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="is empty: a CSV file needs a header row"):
        rows(write(tmp_path / "e.csv", ""))
    with pytest.raises(ImportFailed, match="cannot read .*nope.csv: no such file"):
        open_source(str(tmp_path / "nope.csv"), "csv")


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(str(EXAMPLES / "parking.csv")) == "csv"
    assert detect_format(str(EXAMPLES / "onstreet-parking.geojson")) == "geojson"
    fc = write(tmp_path / "fc.json", json.dumps({"type": "FeatureCollection", "features": []}))
    assert detect_format(str(fc)) == "geojson"
    ents = write(tmp_path / "e.json", json.dumps([{"id": "urn:x:1", "type": "T"}]))
    assert detect_format(str(ents)) == "ngsi-ld"


def test_json_array_streams_in_small_buffers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_SAMPLE", 7)  # values cross buffer ends everywhere
    items = [
        {"id": f"urn:ngsi-ld:T:{i}", "type": "T", "n": i * 1000, "s": "값" * i} for i in range(50)
    ]
    path = write(tmp_path / "e.json", "\ufeff" + json.dumps(items, ensure_ascii=False, indent=1))
    src = open_source(str(path), "ngsi-ld")
    try:
        got = list(src.records)
    finally:
        src.close()
    assert got == list(enumerate(items, 1))


def test_feature_collection_with_crs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_SAMPLE", 11)
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5186"}},
        "features": [
            {"type": "Feature", "properties": {"n": i}, "geometry": None} for i in range(3)
        ],
        "bbox": [0, 0, 1, 1],
    }
    src = open_source(str(write(tmp_path / "f.geojson", json.dumps(doc))), "geojson")
    try:
        assert src.crs == "urn:ogc:def:crs:EPSG::5186"
        assert [n for n, _ in src.records] == [1, 2, 3]
    finally:
        src.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"id": 1}, {"id": 2]', "is not valid JSON: Expecting ',' delimiter at character 20"),
        ('[{"id": 1} {"id": 2}]', "expected ',' or ']' after an array element at character 11"),
        ('"text"', "expected an array of entities (the file starts with '\"')"),
    ],
)
def test_bad_json(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(ImportFailed) as err:
        src = open_source(str(path), "ngsi-ld")
        try:
            list(src.records)
        finally:
            src.close()
    assert message in str(err.value)


def test_geojson_must_be_a_collection(tmp_path: Path) -> None:
    path = write(tmp_path / "one.geojson", json.dumps({"type": "Feature", "geometry": None}))
    with pytest.raises(ImportFailed, match="a single Feature; wrap it in a FeatureCollection"):
        open_source(str(path), "geojson")
