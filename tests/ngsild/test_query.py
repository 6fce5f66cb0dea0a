"""Tests for the NGSI-LD query language (``q``): parsing, errors and evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from cityhub.errors import BadRequestData
from cityhub.ngsild.query import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Compare,
    DateTimeLit,
    Exists,
    NotExists,
    Or,
    Path,
    Pattern,
    Range,
    ValueList,
    attribute_names,
    matches,
    parse_q,
    parse_temporal,
)

E = "https://ex.org/"


def expand(term: str) -> str:
    """Expand a compacted term the way a simple @vocab context would."""
    return term if ":" in term else E + term


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    """A stored Property instance."""
    return {"type": "Property", "value": value, **extra}


ENTITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:Building:1",
    "type": [E + "Building"],
    "attrs": {
        E + "temperature": [
            prop(
                21.5,
                observedAt="2018-12-04T12:00:00.000Z",
                unitCode="CEL",
                **{
                    E + "accuracy": prop(
                        0.5,
                        **{
                            E + "sensor": {
                                "type": "Relationship",
                                "object": "urn:ngsi-ld:Sensor:1",
                            }
                        },
                    )
                },
            )
        ],
        E + "count": [prop(7)],
        E + "name": [prop('Main "Building"; (A|B)')],
        E + "status": [prop("open")],
        E + "active": [prop(True)],
        E + "tags": [prop(["red", "green"])],
        E + "address": [
            prop(
                {
                    "city": "Gwacheon",
                    "street": {"name": "Jungang-ro", "number": 10},
                    "zips": [{"code": "13800"}, {"code": "13801"}],
                }
            )
        ],
        E + "owner": [{"type": "Relationship", "object": "urn:ngsi-ld:Person:Bob"}],
        E + "neighbours": [
            {
                "type": "Relationship",
                "object": ["urn:ngsi-ld:Building:2", "urn:ngsi-ld:Building:3"],
            }
        ],
        E + "title": [
            {"type": "LanguageProperty", "languageMap": {"en": "City Hall", "ko": "시청"}}
        ],
        E + "readings": [{"type": "ListProperty", "valueList": [1, 5, 9]}],
        E + "members": [
            {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Person:Ann"}]}
        ],
        E + "config": [{"type": "JsonProperty", "json": {"mode": "eco", "level": 3}}],
        E + "category": [{"type": "VocabProperty", "vocab": E + "commercial"}],
        E + "opened": [prop("2018-12-04T09:30:00+09:00")],
        E + "day": [prop("2018-12-04")],
        E + "closes": [prop("18:00:00")],
        E + "code": [prop("B-12")],
        E + "location": [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127, 37]}}
        ],
        E + "speed": [
            prop(50, datasetId="urn:ngsi-ld:dataset:gps"),
            prop(80, datasetId="urn:ngsi-ld:dataset:radar"),
        ],
        E + "nothing": [prop(None)],
        E + "typed": [prop({"@type": "DateTime", "@value": "2020-01-01T00:00:00Z"})],
    },
}


def q(text: str) -> bool:
    """Parse ``text`` and evaluate it against :data:`ENTITY`."""
    return matches(parse_q(text, expand), ENTITY)


# -- parsing ---------------------------------------------------------------------------------


def test_plain_comparison_is_a_simple_term() -> None:
    assert parse_q("temperature>20", expand) == Compare(Path(E + "temperature"), ">", 20)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("temperature", Path(E + "temperature")),
        ("ex:temp", Path("ex:temp")),
        ("temperature.observedAt", Path(E + "temperature", ("observedAt",))),
        ("temperature.unitCode", Path(E + "temperature", ("unitCode",))),
        ("speed.datasetId", Path(E + "speed", ("datasetId",))),
        ("temperature.accuracy", Path(E + "temperature", (E + "accuracy",))),
        (
            "temperature.accuracy.sensor",
            Path(E + "temperature", (E + "accuracy", E + "sensor")),
        ),
        (
            "temperature.accuracy.modifiedAt",
            Path(E + "temperature", (E + "accuracy", "modifiedAt")),
        ),
        ("address[street][name]", Path(E + "address", (), ("street", "name"))),
        ("temperature.accuracy[x]", Path(E + "temperature", (E + "accuracy",), ("x",))),
        ("title[en]", Path(E + "title", (), ("en",))),
        ("https://ex.org/a.b.c", Path("https://ex.org/a.b.c")),
        ("http://ex.org/temp", Path("http://ex.org/temp")),
        ("urn:x:attr[k]", Path("urn:x:attr", (), ("k",))),
        (
            "temperature.https://other.org/acc.v2",
            Path(E + "temperature", ("https://other.org/acc.v2",)),
        ),
        ("_under_score-1", Path(E + "_under_score-1")),
        ("  temperature  ", Path(E + "temperature")),
    ],
)
def test_paths(text: str, path: Path) -> None:
    assert parse_q(text, expand) == Exists(path)
    assert parse_q(text + "==1", expand) == Compare(path, "==", 1)


def test_iri_attribute_stops_at_operators() -> None:
    expr = parse_q("https://ex.org/~me/t~=x", expand)
    assert isinstance(expr, Compare)
    assert (expr.path, expr.op) == (Path("https://ex.org/~me/t"), "~=")
    assert parse_q("urn:a:b!=1;https://ex.org/c<2", expand) == And(
        (Compare(Path("urn:a:b"), "!=", 1), Compare(Path("https://ex.org/c"), "<", 2))
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-7", -7),
        ("2.5", 2.5),
        ("-1.5e3", -1500.0),
        ("1E+2", 100.0),
        ("true", True),
        ("false", False),
        ('"free"', "free"),
        ('""', ""),
        ('"a;b|(c)"', "a;b|(c)"),
        (r'"say \"hi\" \\ ok"', 'say "hi" \\ ok'),
        ('"a,b..c"', "a,b..c"),
        ('"  spaced  "', "  spaced  "),
        ("urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:1"),
        ("https://ex.org/a.b?c=d#e", "https://ex.org/a.b?c=d#e"),
        (
            "2018-12-04T12:00:00Z",
            DateTimeLit("2018-12-04T12:00:00Z", datetime(2018, 12, 4, 12, tzinfo=UTC)),
        ),
        (
            "2018-12-04T12:00:00.00Z",
            DateTimeLit("2018-12-04T12:00:00.00Z", datetime(2018, 12, 4, 12, tzinfo=UTC)),
        ),
        ("2018-12-04", DateTimeLit("2018-12-04", date(2018, 12, 4))),
        ("12:00:00", DateTimeLit("12:00:00", time(12, tzinfo=UTC))),
        ("1..5", Range(1, 5)),
        ("-2.5..2.5", Range(-2.5, 2.5)),
        ('"a".."c"', Range("a", "c")),
        (
            "2018-01-01..2018-12-31",
            Range(
                DateTimeLit("2018-01-01", date(2018, 1, 1)),
                DateTimeLit("2018-12-31", date(2018, 12, 31)),
            ),
        ),
        ("1,2,3", ValueList((1, 2, 3))),
        ('"a",true,urn:x:y,1.5', ValueList(("a", True, "urn:x:y", 1.5))),
        ('"a;b","c|d"', ValueList(("a;b", "c|d"))),
    ],
)
def test_values(text: str, value: object) -> None:
    expr = parse_q("attr==" + text, expand)
    assert isinstance(expr, Compare)
    assert expr.value == value
    assert type(expr.value) is type(value)


def test_whitespace_around_tokens_is_allowed() -> None:
    assert parse_q(" a == 1 ; ( b | c > 2 ) ", expand) == parse_q("a==1;(b|c>2)", expand)


def test_vocab_form_of_string_values() -> None:
    expr = parse_q('category=="commercial","urn:x:y"', expand)
    assert isinstance(expr, Compare)
    assert expr.vocab == ValueList((E + "commercial", "urn:x:y"))
    number = parse_q("count==1", expand)
    assert isinstance(number, Compare)
    assert number.vocab is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a;b|c", Or((And((Exists(Path(E + "a")), Exists(Path(E + "b")))), Exists(Path(E + "c"))))),
        ("a|b;c", Or((Exists(Path(E + "a")), And((Exists(Path(E + "b")), Exists(Path(E + "c"))))))),
        (
            "(a|b);c",
            And((Or((Exists(Path(E + "a")), Exists(Path(E + "b")))), Exists(Path(E + "c")))),
        ),
        ("a;(b;c)", And((Exists(Path(E + "a")), Exists(Path(E + "b")), Exists(Path(E + "c"))))),
        ("((a))", Exists(Path(E + "a"))),
        ("!a|b", Or((NotExists(Path(E + "a")), Exists(Path(E + "b"))))),
        ("a|b|c", Or((Exists(Path(E + "a")), Exists(Path(E + "b")), Exists(Path(E + "c"))))),
    ],
)
def test_structure(text: str, expected: object) -> None:
    assert parse_q(text, expand) == expected


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("name~=Main", "Main"),
        ("name~=(?i)^main", "(?i)^main"),
        ("name~=(a|b)c", "(a|b)c"),
        ("name~=[;|)]x", "[;|)]x"),
        ("name~=[]]x", "[]]x"),
        (r"name~=a\)b", r"a\)b"),
        ('name~="a;b|c"', "a;b|c"),
        ("name!~=^x.*$", "^x.*$"),
    ],
)
def test_regex_source(text: str, source: str) -> None:
    expr = parse_q(text, expand)
    assert isinstance(expr, Compare)
    assert isinstance(expr.value, Pattern)
    assert expr.value.source == source


def test_regex_ends_at_separator_and_unbalanced_paren() -> None:
    expr = parse_q("(name~=a(b)c;x==1)|y", expand)
    assert isinstance(expr, Or)
    first = expr.items[0]
    assert isinstance(first, And)
    term = first.items[0]
    assert isinstance(term, Compare)
    assert isinstance(term.value, Pattern)
    assert term.value.source == "a(b)c"
    assert first.items[1] == Compare(Path(E + "x"), "==", 1)


def test_attribute_names() -> None:
    expr = parse_q("(a.b[c]==1|!d);https://x.org/e~=f;(g|(h>2))", expand)
    assert attribute_names(expr) == {E + "a", E + "d", "https://x.org/e", E + "g", E + "h"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        (";", "expected an attribute name"),
        ("a;", "expected an attribute name"),
        ("a||b", "expected an attribute name"),
        ("a;;b", "expected an attribute name"),
        ("()", "expected an attribute name"),
        ("(a", "expected ')'"),
        ("a)", "unexpected ')'"),
        ("(a))", "unexpected ')'"),
        ("a=1", "unknown operator '='"),
        ("a=>1", "unknown operator '='"),
        ("a<>1", "unquoted value '>1'"),
        ("a==", "expected a value"),
        ("a>", "expected a value"),
        ("a 1", "expected an operator"),
        ("a==1 2", "unexpected '2'"),
        ("a==free", "unquoted value 'free'"),
        ("a==True", "unquoted value 'True'"),
        ('a=="open', "unterminated string"),
        ('a=="x"y', "unexpected 'y'"),
        ("a==1..", "expected a value"),
        ("a==1..2..3", "unexpected '.'"),
        ("a==,1", "expected a value"),
        ("a==1,", "expected a value"),
        ("a==1,,2", "expected a value"),
        ("a>1..5", "a range can only follow"),
        ("a<1,2", "a value list can only follow"),
        ('a==1.."z"', "a range needs"),
        ("a==true..false", "a range needs"),
        ("a==urn:a:b..urn:a:c", "a range needs"),
        ("a>true", "> needs a number"),
        ("a<=urn:x:y", "<= needs a number"),
        ("a==2018-13-45", "invalid number, date or time"),
        ("a==12:61:00", "invalid number, date or time"),
        ("a==1.2.3", "invalid number, date or time"),
        ("a==1e999", "number out of range"),
        ("a==(1)", "expected a value"),
        ("a~=", "empty regular expression"),
        ("a~=(unclosed", "invalid regular expression"),
        ("a~=[a-", "invalid regular expression"),
        ("a~=*x", "invalid regular expression"),
        ('a~=""', "empty regular expression"),
        ("!a==1", "'!' can only negate an attribute name"),
        ("!!a", "expected an attribute name"),
        ("a.", "expected a sub-attribute name"),
        ("a..b", "expected a sub-attribute name"),
        ("a.1b", "expected a sub-attribute name"),
        ("1a==1", "expected an attribute name"),
        ("a[", "unterminated '['"),
        ("a[b", "unterminated '['"),
        ("a[]==1", "expected a key"),
        ("a[b].c==1", "a sub-attribute cannot follow"),
        ("a.observedAt.b", "nothing can follow the metadata member"),
        ("a.observedAt[b]", "cannot be indexed"),
        ("a==1;b==", "expected a value"),
        ("a;(b|(c;)))", "expected an attribute name"),
        ("a b", "expected an operator"),
        ('"a"==1', "expected an attribute name"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(BadRequestData, match="Invalid q: ") as caught:
        parse_q(text, expand)
    assert message in caught.value.detail
    assert "at character" in caught.value.detail


def test_error_names_position_and_offending_text() -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_q("temperature>20;status==open", expand)
    assert caught.value.detail == (
        "Invalid q: unquoted value 'open' (strings must be in double quotes) at character 24"
        " (near 'open')"
    )


def test_too_long() -> None:
    with pytest.raises(BadRequestData, match="longer than"):
        parse_q("a|" * MAX_LENGTH + "a", expand)


def test_nesting_limit() -> None:
    ok = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse_q(ok, expand) == Exists(Path(E + "a"))
    deep = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(BadRequestData, match="nested deeper"):
        parse_q(deep, expand)


# -- evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers and every operator
        ("temperature==21.5", True),
        ("temperature!=21.5", False),
        ("temperature!=20", True),
        ("temperature>21", True),
        ("temperature>21.5", False),
        ("temperature>=21.5", True),
        ("temperature<22", True),
        ("temperature<21.5", False),
        ("temperature<=21.5", True),
        ("count==7", True),
        ("count==7.0", True),
        ("count>-1e2", True),
        # bools are not numbers
        ("active==true", True),
        ("active==false", False),
        ("active==1", False),
        ("active>0", False),
        ("count==true", False),
        # strings: exact equality, ordering, types never mix
        ('status=="open"', True),
        ('status=="Open"', False),
        ('status!="closed"', True),
        ('status>"a"', True),
        ('status<"a"', False),
        ('count>"5"', False),
        ('name=="Main \\"Building\\"; (A|B)"', True),
        ('code=="B-12"', True),
        # ranges and lists
        ("count==1..10", True),
        ("count==7..7", True),
        ("count==8..10", False),
        ("count!=8..10", True),
        ('status=="a".."z"', True),
        ('status=="p".."z"', False),
        ("count==1,7,9", True),
        ("count==1,2", False),
        ("count!=1,2", True),
        ('status=="closed","open"', True),
        # regex
        ("status~=^op", True),
        ("status~=^OP", False),
        ("status~=(?i)^OP", True),
        ("status!~=^op", False),
        ("status!~=^cl", True),
        ("name~=\\(A\\|B\\)", True),
        ("name~=(A|C)\\)", False),
        ("count~=7", False),
        ("count!~=7", True),
        ("tags~=^gr", True),
        ("missing~=x", False),
        ("missing!~=x", False),
        # arrays: any element
        ('tags=="red"', True),
        ('tags=="blue"', False),
        ('tags!="red"', False),
        ('tags=="blue","green"', True),
        ("readings==5", True),
        ("readings>8", True),
        ("readings>9", False),
        ("readings==2..4", False),
        # relationships
        ("owner==urn:ngsi-ld:Person:Bob", True),
        ('owner=="urn:ngsi-ld:Person:Bob"', True),
        ("owner!=urn:ngsi-ld:Person:Bob", False),
        ("owner==urn:ngsi-ld:Person:Ann,urn:ngsi-ld:Person:Bob", True),
        ("owner~=Person", True),
        ("neighbours==urn:ngsi-ld:Building:3", True),
        ("neighbours==urn:ngsi-ld:Building:4", False),
        ("members==urn:ngsi-ld:Person:Ann", True),
        ("members==urn:ngsi-ld:Person:Bob", False),
        # language maps
        ('title=="City Hall"', True),
        ('title=="시청"', True),
        ('title[en]=="City Hall"', True),
        ('title[ko]=="City Hall"', False),
        ('title[fr]!="x"', False),
        ("title[ko]", True),
        ("title[fr]", False),
        ("title~=(?i)city", True),
        # json, vocab, geo
        ('config[mode]=="eco"', True),
        ("config[level]>2", True),
        ("config[other]", False),
        ('category=="commercial"', True),
        ("category==https://ex.org/commercial", True),
        ('category=="industrial","commercial"', True),
        ('category=="industrial"', False),
        ('location[type]=="Point"', True),
        ("location[coordinates]==127", True),
        # compound values
        ('address[city]=="Gwacheon"', True),
        ('address[street][name]=="Jungang-ro"', True),
        ("address[street][number]>=10", True),
        ("address[street][number]>10", False),
        ("address[street][floor]", False),
        ("address[street]", True),
        ("address[nope]", False),
        ('address[zips][code]=="13801"', True),
        ('address[city][x]=="Gwacheon"', False),
        ('status[x]=="open"', False),
        # sub-attributes and metadata
        ("temperature.accuracy<1", True),
        ("temperature.accuracy>1", False),
        ("temperature.accuracy.sensor==urn:ngsi-ld:Sensor:1", True),
        ("temperature.accuracy.sensor", True),
        ("temperature.accuracy.nope", False),
        ("temperature.nope==1", False),
        ("temperature.nope!=1", False),
        ('temperature.unitCode=="CEL"', True),
        ("temperature.observedAt>=2018-12-04T12:00:00Z", True),
        ("temperature.observedAt==2018-12-04T12:00:00Z", True),
        ("temperature.observedAt==2018-12-04T21:00:00+09:00", True),
        ("temperature.observedAt>2018-12-04T12:00:00.001Z", False),
        ("temperature.observedAt==2018-12-04T00:00:00Z..2018-12-05T00:00:00Z", True),
        ("temperature.observedAt>2018-12-04", True),
        ("temperature.observedAt<2018-12-04", False),
        ("temperature.observedAt", True),
        ("temperature.createdAt", False),
        ("!temperature.createdAt", True),
        ("count.observedAt<2030-01-01T00:00:00Z", False),
        # date/time strings
        ("opened==2018-12-04T00:30:00Z", True),
        ("opened<2018-12-04T01:00:00Z", True),
        ("opened>2018-12-04T01:00:00Z", False),
        ('opened<"2018-12-04T01:00:00Z"', True),
        ('opened=="2018-12-04T00:30:00Z"', False),
        ("day==2018-12-04", True),
        ("day<2018-12-05", True),
        ("day>2018-12-03T23:00:00Z", True),
        ("closes>12:00:00", True),
        ("closes<12:00:00Z", False),
        ("closes==18:00:00.000", True),
        ("status>2018-01-01", True),
        ("typed==2020-01-01T00:00:00.000Z", True),
        ("typed>2019-12-31", True),
        # multi-instance attributes: any instance
        ("speed==80", True),
        ("speed==50", True),
        ("speed>70", True),
        ("speed<40", False),
        ("speed==60..90", True),
        ("speed!=50", False),
        ("speed.datasetId==urn:ngsi-ld:dataset:radar", True),
        ("speed.datasetId==urn:ngsi-ld:dataset:other", False),
        # missing attributes and existence
        ("missing", False),
        ("!missing", True),
        ("!temperature", False),
        ("missing==1", False),
        ("missing!=1", False),
        ("missing<1", False),
        ("nothing", True),
        ("nothing==1", False),
        ("nothing!=1", True),
        # logic
        ('count==7;status=="open"', True),
        ('count==7;status=="closed"', False),
        ('count==1|status=="open"', True),
        ('count==1|status=="closed"', False),
        ("count==1;count==2|count==7", True),
        ("count==1;(count==2|count==7)", False),
        ("count==7|count==1;count==2", True),
        ("(count==7|count==1);count==2", False),
        ("((count==7;missing)|(!missing;active==true));temperature", True),
        # full IRIs
        ("https://ex.org/count==7", True),
        ("https://ex.org/temperature.observedAt", False),
    ],
)
def test_matches(text: str, expected: bool) -> None:
    assert q(text) is expected


@pytest.mark.parametrize(
    "entity",
    [
        {},
        {"attrs": None},
        {"attrs": []},
        {"attrs": {E + "a": None}},
        {"attrs": {E + "a": "text"}},
        {"attrs": {E + "a": [None, 1, "x"]}},
        {"attrs": {E + "a": [{"type": ["Property"], "value": {"b": [1, None]}}]}},
        {"attrs": {E + "a": [{"type": "LanguageProperty", "languageMap": ["en"]}]}},
        {"attrs": {E + "a": [{"type": "Relationship", "object": {"x": 1}}]}},
        {"attrs": {E + "a": [{"value": [[1], {"b": 2}], "observedAt": 5}]}},
        {"attrs": {E + "a": [{"value": "not-a-date", E + "s": [None, {"value": 1}]}]}},
        {"attrs": {E + "a": [{"type": "ListRelationship", "objectList": [{}, None, 3]}]}},
    ],
)
@pytest.mark.parametrize(
    "text",
    [
        "a",
        "!a",
        "a==1",
        "a!=1",
        "a>2018-01-01",
        "a<12:00:00",
        'a>="x"',
        "a==1..3",
        "a==1,urn:x:y",
        "a~=x",
        "a!~=x",
        "a[b]==1",
        "a[b][c]",
        "a.s==1",
        "a.observedAt>2018-01-01T00:00:00Z",
        'a[en]=="x"',
    ],
)
def test_odd_entity_content_never_raises(entity: dict[str, Any], text: str) -> None:
    assert matches(parse_q(text, expand), entity) in (True, False)


def test_parse_temporal() -> None:
    assert parse_temporal("2018-12-04T12:00:00") == datetime(2018, 12, 4, 12, tzinfo=UTC)
    assert parse_temporal("2018-12-04T12:00:00.123456789Z") == datetime(
        2018, 12, 4, 12, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_temporal("12:00:00+01:00") == time(11, tzinfo=UTC)
    assert parse_temporal("2018-12-04") == date(2018, 12, 4)
    for text in ("20181204", "2018-W01-1", "noon", "2018-02-30", ""):
        assert parse_temporal(text) is None
