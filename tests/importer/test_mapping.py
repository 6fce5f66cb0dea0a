"""The mapping file: what it accepts, and the precise message for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityhub.importer.errors import MappingError
from cityhub.importer.mapping import Arr, Cell, Const, Obj, Text, load_mapping
from tests.importer.conftest import EXAMPLES, PARKING_MAPPING, write

HEAD = 'type = "OffStreetParking"\nid = "urn:ngsi-ld:OffStreetParking:{번호}"\n'


def load(tmp_path: Path, text: str) -> object:
    return load_mapping(str(write(tmp_path / "m.toml", text)))


def test_parking_mapping_loads(tmp_path: Path) -> None:
    m = load_mapping(str(write(tmp_path / "m.toml", PARKING_MAPPING)))
    assert m.entity_type == "OffStreetParking"
    assert m.id.columns == ["주차장관리번호"]
    assert m.location is not None and m.location.crs == "EPSG:4326"
    assert m.location.bounds == (124.5, 33.0, 132.0, 38.7)
    names = [a.name for a in m.attributes]
    assert names == ["name", "category", "totalSpotNumber", "dateModified"]
    cat = m.attributes[1].node
    assert (
        isinstance(cat, Cell) and cat.as_list and cat.map == {"공영": "public", "민영": "private"}
    )
    assert m.columns() == [
        "주차장관리번호",
        "경도",
        "위도",
        "주차장명",
        "주차장구분",
        "주차구획수",
        "데이터기준일자",
    ]


def test_examples_load() -> None:
    for name in ("parking.toml", "gwacheon-5186.toml", "onstreet-parking.toml"):
        load_mapping(str(EXAMPLES / name))


def test_template_shapes(tmp_path: Path) -> None:
    m = load_mapping(
        str(
            write(
                tmp_path / "m.toml",
                HEAD
                + """
[attributes.address]
template = { streetAddress = "{주소}", addressCountry = "KR", spots = { column = "면수", type = "integer" } }
[attributes.hours]
template = ["Mo-Fr {a}-{b}", "Sa {c}-{d}"]
[attributes.fixed]
value = 3
[attributes.owner]
template = "urn:ngsi-ld:Organization:{기관코드}"
kind = "Relationship"
[attributes.nameKo]
column = "이름"
kind = "LanguageProperty"
lang = "ko"
""",
            )
        )
    )
    nodes = {a.name: a.node for a in m.attributes}
    address = nodes["address"]
    assert isinstance(address, Obj)
    members = dict(address.members)
    assert isinstance(members["streetAddress"], Text)
    assert members["addressCountry"] == Const("KR")
    assert isinstance(members["spots"], Cell) and members["spots"].type == "integer"
    assert isinstance(nodes["hours"], Arr) and len(nodes["hours"].items) == 2
    assert nodes["fixed"] == Const(3)
    assert m.attributes[3].kind == "Relationship"
    assert m.attributes[4].lang == "ko"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type = [", "is not valid TOML: "),
        ('id = "urn:x:{a}"', 'needs type = "EntityType"'),
        ('type = "T"', 'needs id = "urn:ngsi-ld:Type:{key column}"'),
        ('type = "T"\nid = "urn:ngsi-ld:T:1"', "has no {column} placeholder: every row would"),
        ('type = "T"\nid = "{번호}"', "does not build a URI"),
        ('type = "T"\nid = "urn:x:{번호:>5}"', "write placeholders as {column}"),
        ('type = "T"\nid = "urn:x:{번호"', "write a literal brace as {{ or }}"),
        ('type = "Bad Type"\nid = "urn:x:{a}"', "type 'Bad Type' is not a valid NGSI-LD type"),
        (HEAD + "colour = 1", "unknown key 'colour' at the top level (expected one of: type, id"),
        (HEAD + 'tenant = "a b"', "tenant 'a b': use letters, digits"),
        (HEAD + 'timezone = "Mars/Olympus"', "unknown timezone 'Mars/Olympus'"),
        (HEAD + 'context = "ctx.jsonld"', "context must be the http(s) URL"),
        (HEAD, "maps no attribute"),
        (HEAD + '[location]\nx = "경도"', "[location] give both x (longitude/easting) and y"),
        (
            HEAD + '[location]\nx = "x"\ny = "y"\ncrs = "EPSG:999999"',
            "[location] crs 'EPSG:999999': unknown",
        ),
        (HEAD + '[location]\nx = "x"\ny = "y"\nbounds = [1, 2, 3]', "[location] bounds must be"),
        (HEAD + '[location]\nx = "x"\ny = "y"\nbounds = [130, 33, 124, 38]', "min < max"),
        (HEAD + '[location]\nlon = "x"', "unknown key 'lon' in [location]"),
        (
            HEAD + "[attributes.name]\ncolumn = 3",
            "[attributes.name] column must be the name of a column",
        ),
        (
            HEAD + '[attributes.name]\ncolum = "a"',
            "[attributes.name] unknown key 'colum' in [attributes.name]",
        ),
        (
            HEAD + "[attributes.name]\nrequired = true",
            "give exactly one of column, template, value (given: none)",
        ),
        (HEAD + '[attributes.name]\ncolumn = "a"\nvalue = 1', "(given: column and value)"),
        (
            HEAD + '[attributes.n]\ncolumn = "a"\ntype = "int"',
            "[attributes.n] type must be one of text, integer, number, boolean, date, datetime, json, not 'int'",
        ),
        (
            HEAD + '[attributes.n]\ncolumn = "a"\nformat = "%Y"',
            "format applies to type date or datetime only",
        ),
        (HEAD + '[attributes.n]\ncolumn = "a"\ntype = "date"\nformat = "Y-m-d"', "strptime format"),
        (HEAD + '[attributes.n]\ncolumn = "a"\nmap_unknown = "omit"', "map_unknown needs a map"),
        (
            HEAD + '[attributes.n]\ncolumn = "a"\nmap = { a = "b" }\nmap_unknown = "drop"',
            "map_unknown must be one of keep, omit, reject",
        ),
        (
            HEAD + '[attributes.n]\ncolumn = "a"\nkind = "GeoProperty"',
            "kind must be one of Property, Relationship, LanguageProperty",
        ),
        (HEAD + '[attributes.n]\ncolumn = "a"\nkind = "LanguageProperty"', 'needs lang = "ko"'),
        (HEAD + '[attributes.n]\ncolumn = "a"\nlang = "ko"', "lang applies to kind"),
        (HEAD + '[attributes.n]\ncolumn = "a"\nunitCode = ""', "unitCode must be"),
        (
            HEAD + '[attributes.n]\ntemplate = "{a}"\ntype = "integer"',
            "'type' applies with column only",
        ),
        (HEAD + "[attributes.n]\ntemplate = []", "template is an empty array"),
        (
            HEAD + '[attributes.n]\ntemplate = { a = { column = "x", typ = "integer" } }',
            "unknown key 'typ' in template.a",
        ),
        (
            HEAD + '[attributes.n]\ncolumn = "a"\ntimezone = "UTC"',
            "timezone applies to type datetime only",
        ),
        (HEAD + '[attributes.id]\ncolumn = "a"', "'id' is reserved by NGSI-LD"),
        (
            HEAD + '[attributes."bad name"]\ncolumn = "a"',
            "'bad name' is not a valid NGSI-LD attribute name",
        ),
        (
            HEAD + '[location]\nx = "x"\ny = "y"\n[attributes.location]\ncolumn = "a"',
            "'location' is also the [location] attribute",
        ),
        (HEAD + "attributes = 3", "attributes must be a table of tables"),
    ],
)
def test_mapping_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MappingError) as err:
        load(tmp_path, text)
    assert message in str(err.value)
    assert str(tmp_path / "m.toml") in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_mapping(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping file .*nope.toml: No such file"):
        load_mapping(str(tmp_path / "nope.toml"))
    (tmp_path / "k.toml").write_bytes("type = '주차'".encode("cp949"))
    with pytest.raises(MappingError, match="is not UTF-8 text"):
        load_mapping(str(tmp_path / "k.toml"))


def test_crs_as_number_and_invalid_toml_position(tmp_path: Path) -> None:
    m = load_mapping(
        str(write(tmp_path / "m.toml", HEAD + '[location]\nx = "X"\ny = "Y"\ncrs = 5186\n'))
    )
    assert m.location is not None and m.location.crs == "EPSG:5186"
    with pytest.raises(MappingError, match=r"line 3"):
        load(tmp_path, HEAD + "[attributes.a\n")
