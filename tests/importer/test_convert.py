"""Cell conversions, templates, and rows → entities with the reasons rows are rejected for."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityhub.importer.convert import (
    EMPTY,
    TableConverter,
    to_boolean,
    to_date,
    to_datetime,
    to_integer,
    to_json,
    to_number,
)
from cityhub.importer.errors import RowError
from cityhub.importer.geo import Projector
from cityhub.importer.mapping import parse_mapping


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), (" 7 ", 7), ("1,234", 1234), ("-5", -5), ("12.0", 12), (3, 3), (4.0, 4)],
)
def test_integer(raw: Any, expected: int) -> None:
    assert to_integer("주차구획수", raw) == expected


@pytest.mark.parametrize("raw", ["미정", "12.5", "1,23", "", "1e400", True, 2.5])
def test_integer_refused(raw: Any) -> None:
    with pytest.raises(RowError) as err:
        to_integer("주차구획수", raw)
    assert err.value.reason == "column 주차구획수: not an integer"
    assert (
        err.value.detail
        == f"column 주차구획수: {raw if not isinstance(raw, str) else raw.strip()!r} is not an integer"
    )


def test_number_boolean_json() -> None:
    assert to_number("n", "3.25") == 3.25
    assert to_number("n", "1,234.5") == 1234.5
    assert to_number("n", "10") == 10 and isinstance(to_number("n", "10"), int)
    for bad in ("abc", "nan", "inf"):
        with pytest.raises(RowError, match="is not a"):
            to_number("n", bad)
    assert [to_boolean("b", v) for v in ("Y", "n", "예", "아니오", "TRUE", "0", True)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    with pytest.raises(RowError) as err:
        to_boolean("b", "maybe")
    assert err.value.reason == "column b: not a boolean"
    assert to_json("j", '{"a": [1]}') == {"a": [1]}
    with pytest.raises(RowError, match="is not JSON"):
        to_json("j", "{")


def test_dates_and_datetimes() -> None:
    assert to_date("d", "2025-09-30", None) == {"@type": "Date", "@value": "2025-09-30"}
    assert to_date("d", "20250930", None)["@value"] == "2025-09-30"
    assert to_date("d", "2025.09.30", None)["@value"] == "2025-09-30"
    assert to_date("d", "30/09/2025", "%d/%m/%Y")["@value"] == "2025-09-30"
    with pytest.raises(RowError) as err:
        to_date("d", "2025-13-01", None)
    assert err.value.detail == "column d: '2025-13-01' is not a date (YYYY-MM-DD)"
    with pytest.raises(RowError, match="is not a date in the format '%d/%m/%Y'"):
        to_date("d", "2025-09-30", "%d/%m/%Y")
    seoul, utc = ZoneInfo("Asia/Seoul"), ZoneInfo("UTC")
    # a time without an offset is in the mapping's timezone; the result is UTC
    assert to_datetime("t", "2025-09-30 09:00", None, seoul) == {
        "@type": "DateTime",
        "@value": "2025-09-30T00:00:00Z",
    }
    assert to_datetime("t", "2025-09-30", "%Y-%m-%d", seoul)["@value"] == "2025-09-29T15:00:00Z"
    assert to_datetime("t", "2025-09-30T12:00:00+02:00", None, seoul)["@value"] == (
        "2025-09-30T10:00:00Z"
    )
    assert to_datetime("t", "2025-09-30T12:00:00.250Z", None, utc)["@value"] == (
        "2025-09-30T12:00:00.250Z"
    )
    with pytest.raises(RowError) as err:
        to_datetime("t", "어제", None, utc)
    assert err.value.reason == "column t: not a date-time"


MAPPING: dict[str, Any] = {
    "type": "OffStreetParking",
    "id": "urn:ngsi-ld:OffStreetParking:{번호}",
    "location": {"x": "경도", "y": "위도", "bounds": [124.5, 33.0, 132.0, 38.7]},
    "attributes": {
        "name": {"column": "이름", "required": True},
        "category": {
            "column": "구분",
            "map": {"공영": "public", "민영": "private"},
            "map_unknown": "reject",
            "list": True,
        },
        "totalSpotNumber": {"column": "면수", "type": "integer", "unitCode": "C62"},
        "address": {"template": {"streetAddress": "{주소}", "addressCountry": "KR"}},
        "paymentMethod": {"column": "결제", "split": "+", "map": {"카드": "CreditCard"}},
        "openingHours": {"template": ["Mo-Fr {평일시작}-{평일종료}", "Sa {토시작}-{토종료}"]},
        "owner": {"template": "urn:ngsi-ld:Organization:{기관}", "kind": "Relationship"},
        "alternateName": {"column": "이름", "kind": "LanguageProperty", "lang": "ko"},
    },
}
COLUMNS = [
    "번호",
    "이름",
    "구분",
    "면수",
    "주소",
    "결제",
    "평일시작",
    "평일종료",
    "토시작",
    "토종료",
    "기관",
    "위도",
    "경도",
]


def convert(
    rows: list[list[str]], mapping: dict[str, Any] | None = None, crs: str = "EPSG:4326"
) -> Any:
    m = parse_mapping(mapping or MAPPING)
    conv = TableConverter(m, COLUMNS, Projector(crs, (124.5, 33.0, 132.0, 38.7)))
    return conv.convert([(i + 2, row) for i, row in enumerate(rows)])


GOOD = [
    "A-1",
    "과천시청",
    "공영",
    "412",
    "경기도 과천시 관문로 69",
    "카드+현금",
    "09:00",
    "18:00",
    "",
    "",
    "3970000",
    "37.429246",
    "126.987616",
]


def test_row_to_entity() -> None:
    out = convert([GOOD])
    assert out.rejects == []
    (entity,) = out.entities
    assert entity == {
        "id": "urn:ngsi-ld:OffStreetParking:A-1",
        "type": "OffStreetParking",
        "name": {"type": "Property", "value": "과천시청"},
        "category": {"type": "Property", "value": ["public"]},
        "totalSpotNumber": {"type": "Property", "value": 412, "unitCode": "C62"},
        "address": {
            "type": "Property",
            "value": {"streetAddress": "경기도 과천시 관문로 69", "addressCountry": "KR"},
        },
        # an unmapped item is kept as it is (map_unknown = "keep", the default)
        "paymentMethod": {"type": "Property", "value": ["CreditCard", "현금"]},
        # the Saturday template has empty columns: that item is left out
        "openingHours": {"type": "Property", "value": ["Mo-Fr 09:00-18:00"]},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Organization:3970000"},
        "alternateName": {"type": "LanguageProperty", "languageMap": {"ko": "과천시청"}},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [126.987616, 37.429246]},
        },
    }
    assert out.rows == [(2, GOOD)]


def test_empty_cells_omit_attributes() -> None:
    row = GOOD.copy()
    for col in ("면수", "주소", "결제", "평일시작", "기관"):
        row[COLUMNS.index(col)] = " "
    (entity,) = convert([row]).entities
    assert set(entity) == {"id", "type", "name", "category", "alternateName", "location"}


def with_(**cells: str) -> list[str]:
    row = GOOD.copy()
    for col, v in cells.items():
        row[COLUMNS.index(col)] = v
    return row


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        (
            with_(번호=""),
            "column 번호 is empty (the entity id needs it)",
            "column 번호 is empty, and the entity id is built from it",
        ),
        (with_(이름=""), "column 이름 is empty", "column 이름 is empty"),
        (
            with_(면수="미정"),
            "column 면수: not an integer",
            "column 면수: '미정' is not an integer",
        ),
        (
            with_(구분="기타"),
            "column 구분: value not in the map",
            "column 구분: '기타' is not in the map (expected one of '공영', '민영')",
        ),
        (
            with_(위도="", 경도=""),
            "location: no coordinates",
            "location: no coordinates (columns 경도 and 위도 are empty)",
        ),
        (with_(위도=""), "location: column 위도 is empty", "location: column 위도 is empty"),
        (
            with_(경도="동경127"),
            "location: column 경도 is not a number",
            "location: column 경도: '동경127' is not a number",
        ),
        (
            with_(위도="126.987616", 경도="37.429246"),
            "location: coordinates out of range",
            "location: (37.429246, 126.987616) is not a longitude/latitude in range (longitude and latitude swapped?)",
        ),
        (
            with_(위도="0", 경도="0"),
            "location: outside the bounds",
            "location: (0, 0) is outside the bounds [124.5, 33.0, 132.0, 38.7]",
        ),
        (with_(기관="a b"), None, None),  # a space in a URI is percent-encoded, not refused
        (GOOD[:5], "wrong number of fields", "the row has 5 fields, the header has 13"),
    ],
)
def test_rejected_rows(row: list[str], reason: str | None, detail: str | None) -> None:
    out = convert([GOOD, row, GOOD])
    if reason is None:
        assert out.rejects == []
        assert out.entities[1]["owner"]["object"] == "urn:ngsi-ld:Organization:a%20b"
        return
    (reject,) = out.rejects
    assert (reject.position, reject.reason, reject.detail) == (3, reason, detail)
    assert reject.raw == row
    assert len(out.entities) == 2


def test_trailing_empty_field_is_tolerated() -> None:
    assert convert([[*GOOD, ""]]).rejects == []


def test_id_placeholders_are_made_uri_safe() -> None:
    (entity,) = convert([with_(번호="서울 1호")]).entities
    assert entity["id"] == "urn:ngsi-ld:OffStreetParking:서울%201호"


def test_relationship_must_be_uri() -> None:
    m = {**MAPPING, "attributes": {"owner": {"column": "기관", "kind": "Relationship"}}}
    out = convert([GOOD], m)
    (reject,) = out.rejects
    assert reject.detail == "attribute owner: '3970000' is not a URI"


def test_projected_rows_in_one_chunk() -> None:
    m = {**MAPPING, "location": {"x": "경도", "y": "위도", "crs": "EPSG:5186"}}
    rows = [with_(번호=str(i), 경도=str(200000 + i), 위도="600000") for i in range(3)]
    rows.append(with_(번호="far", 경도="1e12", 위도="1e12"))
    out = convert(rows, m, crs="EPSG:5186")
    assert [e["id"][-1] for e in out.entities] == ["0", "1", "2"]
    lon, lat = out.entities[0]["location"]["value"]["coordinates"]
    assert abs(lon - 127.0) < 1e-9 and abs(lat - 38.0) < 1e-9
    (reject,) = out.rejects
    assert reject.reason in (
        "location: cannot project from EPSG:5186",
        "location: coordinates out of range",
    )


def test_required_template_attribute() -> None:
    m = {
        **MAPPING,
        "attributes": {
            "address": {"template": {"streetAddress": "{주소}", "c": "KR"}, "required": True}
        },
    }
    out = convert([with_(주소="")], m)
    assert out.rejects[0].detail == "attribute address is empty"
    assert EMPTY is not None
