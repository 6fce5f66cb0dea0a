"""Tests for cityhub.iot.measures: UltraLight/JSON payloads and measures → NGSI-LD attributes."""

from __future__ import annotations

from typing import Any

import pytest

from cityhub.errors import BadRequestData
from cityhub.iot.measures import (
    entity_id_for,
    parse_json_measures,
    parse_ultralight,
    to_attributes,
)
from cityhub.iot.model import AttrMap, DeviceMapping, StaticAttr

NOW = "2026-03-01T12:00:00.000Z"
T0 = "2026-01-01T00:00:00Z"


def device(*attributes: AttrMap, **kwargs: Any) -> DeviceMapping:
    return DeviceMapping(
        device_id="sensor01",
        entity_id="urn:ngsi-ld:Room:sensor01",
        entity_type="Room",
        attributes=attributes,
        **kwargs,
    )


def attrs_of(measures: dict[str, Any], *attributes: AttrMap, **kwargs: Any) -> dict[str, Any]:
    return to_attributes(measures, device(*attributes, **kwargs), NOW)


def one(iota_type: str, value: Any, /, **meta: Any) -> dict[str, Any]:
    """The single attribute measure ``m`` of type ``iota_type`` gives."""
    mapping = AttrMap(name="a", type=iota_type, object_id="m", metadata=meta)
    return attrs_of({"m": value}, mapping)["a"]


def bad(match: str) -> Any:
    return pytest.raises(BadRequestData, match=match)


# ---------------------------------------------------------------------------------------------
# parse_ultralight


def test_ul_single_group() -> None:
    assert parse_ultralight("t|21.5|h|40") == [{"t": "21.5", "h": "40"}]


def test_ul_multi_measure_one_dict_per_group() -> None:
    assert parse_ultralight("t|21.5#t|21.7|h|41") == [{"t": "21.5"}, {"t": "21.7", "h": "41"}]


def test_ul_surrounding_whitespace_and_newlines_stripped() -> None:
    assert parse_ultralight("  t|1|h|2\r\n") == [{"t": "1", "h": "2"}]
    assert parse_ultralight("t|1\n#\nh|2\n") == [{"t": "1"}, {"h": "2"}]


def test_ul_empty_groups_skipped() -> None:
    assert parse_ultralight("#t|1##h|2#") == [{"t": "1"}, {"h": "2"}]


def test_ul_values_stay_strings_and_may_be_empty() -> None:
    assert parse_ultralight("s|on|n|") == [{"s": "on", "n": ""}]


def test_ul_values_keep_colons_and_commas() -> None:
    text = f"TimeInstant|{T0}|pos|40.4,-3.7"
    assert parse_ultralight(text) == [{"TimeInstant": T0, "pos": "40.4,-3.7"}]


def test_ul_repeated_key_keeps_last_value() -> None:
    assert parse_ultralight("t|1|t|2") == [{"t": "2"}]


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n"])
def test_ul_empty_payload(text: str) -> None:
    with bad("empty UltraLight payload"):
        parse_ultralight(text)


def test_ul_only_separators() -> None:
    with bad("no measures"):
        parse_ultralight(" # ## ")


def test_ul_odd_number_of_fields_names_the_group() -> None:
    with bad(r"group 2 \('h\|40\|x'\) has an odd number of fields \(3\)"):
        parse_ultralight("t|21#h|40|x")


def test_ul_single_field_is_odd() -> None:
    with bad(r"group 1 \('t'\) has an odd number of fields \(1\)"):
        parse_ultralight("t")


def test_ul_empty_key_names_group_and_pair() -> None:
    with bad(r"group 1 \('t\|1\|\|2'\): pair 2 has an empty key"):
        parse_ultralight("t|1||2")


def test_ul_group_numbers_count_skipped_groups() -> None:
    with bad("group 3"):
        parse_ultralight("t|1##|2")


# ---------------------------------------------------------------------------------------------
# parse_json_measures


def test_json_object() -> None:
    assert parse_json_measures({"t": 21.5, "s": "on"}) == [{"t": 21.5, "s": "on"}]


def test_json_array_is_multi_measure() -> None:
    assert parse_json_measures([{"t": 1}, {"t": 2}]) == [{"t": 1}, {"t": 2}]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("t|1", "must be an object or an array of objects, got str"),
        (42, "got int"),
        (None, "got null"),
        (True, "got bool"),
        ([], "the array is empty"),
        ({}, "empty object"),
        ([{"t": 1}, 5], r"measures\[1\] must be an object of measures, got int"),
        ([{"t": 1}, [{"t": 2}]], r"measures\[1\] must be an object of measures, got list"),
        ([{"t": 1}, {}], r"measures\[1\] is an empty object"),
        ({"": 1}, "empty name"),
    ],
)
def test_json_bad_payloads(body: Any, match: str) -> None:
    with bad(match):
        parse_json_measures(body)


# ---------------------------------------------------------------------------------------------
# to_attributes: mapping


def test_mapped_by_object_id() -> None:
    mapping = AttrMap(name="temperature", type="Number", object_id="t")
    assert attrs_of({"t": "21.5"}, mapping) == {"temperature": {"type": "Property", "value": 21.5}}


def test_mapped_by_name_when_no_object_id() -> None:
    mapping = AttrMap(name="temperature", type="Number")
    assert attrs_of({"temperature": "21"}, mapping) == {
        "temperature": {"type": "Property", "value": 21}
    }


def test_mapping_with_object_id_does_not_match_its_name() -> None:
    mapping = AttrMap(name="temperature", type="Number", object_id="t")
    # the measure "temperature" is unmapped: kept as given (a string), not converted
    assert attrs_of({"temperature": "21"}, mapping) == {
        "temperature": {"type": "Property", "value": "21"}
    }


def test_unmapped_measure_is_a_property_with_its_key() -> None:
    assert attrs_of({"h": "40", "on": True}) == {
        "h": {"type": "Property", "value": "40"},
        "on": {"type": "Property", "value": True},
    }


def test_unmapped_measure_dropped_with_explicit_attrs() -> None:
    mapping = AttrMap(name="temperature", type="Number", object_id="t")
    got = attrs_of({"t": "21", "h": "40", "bad name": "x"}, mapping, explicit_attrs=True)
    assert got == {"temperature": {"type": "Property", "value": 21}}


def test_empty_group_gives_no_attributes() -> None:
    assert attrs_of({}) == {}


def test_two_measures_for_one_attribute() -> None:
    mapping = AttrMap(name="temperature", type="Number", object_id="t")
    with bad("measures 't' and 'temperature' both give attribute 'temperature'"):
        attrs_of({"t": "1", "temperature": "2"}, mapping)


# ---------------------------------------------------------------------------------------------
# to_attributes: TimeInstant and observedAt


def test_time_instant_is_observed_at_of_every_attribute() -> None:
    mapping = AttrMap(name="temperature", type="Number", object_id="t")
    static = StaticAttr(name="floor", type="Number", value=3)
    got = attrs_of({"t": "21", "h": "40", "TimeInstant": T0}, mapping, static_attributes=(static,))
    assert "TimeInstant" not in got
    assert set(got) == {"temperature", "h", "floor"}
    assert all(a["observedAt"] == T0 for a in got.values())


def test_time_instant_wins_over_now_with_timestamp() -> None:
    got = attrs_of({"h": "40", "TimeInstant": T0}, timestamp=True)
    assert got == {"h": {"type": "Property", "value": "40", "observedAt": T0}}


def test_timestamp_without_time_instant_uses_now() -> None:
    got = attrs_of({"h": "40"}, timestamp=True)
    assert got == {"h": {"type": "Property", "value": "40", "observedAt": NOW}}


def test_no_observed_at_without_time_instant_or_timestamp() -> None:
    assert attrs_of({"h": "40"}) == {"h": {"type": "Property", "value": "40"}}


def test_time_instant_kept_out_even_with_explicit_attrs() -> None:
    mapping = AttrMap(name="h", type="Number")
    got = attrs_of({"h": "40", "TimeInstant": T0}, mapping, explicit_attrs=True)
    assert got == {"h": {"type": "Property", "value": 40, "observedAt": T0}}


def test_measure_mapped_to_time_instant_is_the_timestamp() -> None:
    mapping = AttrMap(name="TimeInstant", type="DateTime", object_id="ts")
    got = attrs_of({"ts": T0, "h": "1"}, mapping)
    assert got == {"h": {"type": "Property", "value": "1", "observedAt": T0}}


@pytest.mark.parametrize(
    "stamp", ["2026-01-01T00:00:00Z", "2026-01-01T09:00:00+09:00", "2026-01-01T00:00:00.123456"]
)
def test_time_instant_forms(stamp: str) -> None:
    assert attrs_of({"h": "1", "TimeInstant": stamp})["h"]["observedAt"] == stamp


@pytest.mark.parametrize(
    "stamp", ["yesterday", "2026-01-01", "2026-13-01T00:00:00Z", 1700000000, ""]
)
def test_malformed_time_instant(stamp: Any) -> None:
    with bad(r"measure 'TimeInstant' \(TimeInstant\): an ISO 8601 DateTime expected"):
        attrs_of({"h": "1", "TimeInstant": stamp})


# ---------------------------------------------------------------------------------------------
# to_attributes: type conversion


@pytest.mark.parametrize(
    ("iota_type", "value", "expected"),
    [
        ("Number", "21", 21),
        ("Number", "21.5", 21.5),
        ("Number", "-3", -3),
        ("Number", " 1e3 ", 1000.0),
        ("Number", ".5", 0.5),
        ("Number", 21.5, 21.5),
        ("Number", 7, 7),
        ("Integer", "42", 42),
        ("Integer", "42.0", 42),
        ("Integer", 42.0, 42),
        ("Float", "21", 21.0),
        ("Float", 3, 3.0),
    ],
)
def test_numbers(iota_type: str, value: Any, expected: float) -> None:
    got = one(iota_type, value)
    assert got == {"type": "Property", "value": expected}
    assert type(got["value"]) is type(expected)


@pytest.mark.parametrize(
    ("iota_type", "value"),
    [
        ("Number", "abc"),
        ("Number", ""),
        ("Number", "1,5"),
        ("Number", "nan"),
        ("Number", "inf"),
        ("Number", "0x10"),
        ("Number", "1_000"),
        ("Number", "١٢"),  # non-ASCII digits
        ("Number", True),
        ("Number", [1]),
        ("Integer", "1.5"),
        ("Integer", 1.5),
        ("Float", "x"),
    ],
)
def test_not_a_number_names_the_measure(iota_type: str, value: Any) -> None:
    with bad(f"measure 'm': {iota_type} expected"):
        one(iota_type, value)


def test_number_overflow() -> None:
    with bad("measure 'm': '1e999' is not a finite number"):
        one("Number", "1e999")


def test_number_with_too_many_digits() -> None:
    with bad("measure 'm': .* too long"):
        one("Number", "9" * 5000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("TRUE", True),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
    ],
)
def test_boolean(value: Any, expected: bool) -> None:
    assert one("Boolean", value) == {"type": "Property", "value": expected}


@pytest.mark.parametrize("value", ["yes", "2", "", 2, 0.5])
def test_bad_boolean(value: Any) -> None:
    with bad("measure 'm': Boolean expected"):
        one("Boolean", value)


@pytest.mark.parametrize("iota_type", ["Text", "String", "Property", "SomethingElse"])
def test_text_and_unknown_types_as_given(iota_type: str) -> None:
    assert one(iota_type, "21.5") == {"type": "Property", "value": "21.5"}
    assert one(iota_type, {"a": [1, 2]}) == {"type": "Property", "value": {"a": [1, 2]}}


def test_null_measure() -> None:
    with bad("measure 'm' is null"):
        one("Text", None)
    with bad("measure 'h' is null"):
        attrs_of({"h": None})


def test_geo_point_lat_lon_to_geojson_lon_lat() -> None:
    assert one("geo:point", "37.4292, 126.9876") == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [126.9876, 37.4292]},
    }


@pytest.mark.parametrize("value", ["37.4", "37.4,126.9,10", "a,b", "", [37.4, 126.9]])
def test_bad_geo_point(value: Any) -> None:
    with bad("measure 'm': geo:point expected as 'latitude,longitude'"):
        one("geo:point", value)


def test_geo_point_out_of_range() -> None:
    # latitude first: 126.9 as a latitude is out of range
    with bad(r"measure 'm': .*latitude 126.9 is outside \[-90, 90\]"):
        one("geo:point", "126.9,37.4")


def test_geo_json_object() -> None:
    line = {"type": "LineString", "coordinates": [[126.9, 37.4], [127.0, 37.5]]}
    assert one("geo:json", line) == {"type": "GeoProperty", "value": line}


def test_geo_json_as_text() -> None:
    got = one("geo:json", '{"type":"Point","coordinates":[126.9,37.4]}')
    assert got == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [126.9, 37.4]}}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"type": "Circle", "coordinates": [1, 2]}, "has type 'Circle'"),
        ({"type": "Point"}, "has no 'coordinates'"),
        ("{not json", "geo:json value is not JSON"),
        (5, "must be a JSON object"),
    ],
)
def test_bad_geo_json(value: Any, match: str) -> None:
    with bad(f"measure 'm': .*{match}"):
        one("geo:json", value)


def test_relationship() -> None:
    assert one("Relationship", "urn:ngsi-ld:Building:b1") == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Building:b1",
    }


@pytest.mark.parametrize("value", ["building 1", "b1", 5])
def test_relationship_needs_a_uri(value: Any) -> None:
    with bad("measure 'm': a Relationship needs a URI"):
        one("Relationship", value)


def test_datetime() -> None:
    assert one("DateTime", T0) == {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": T0},
    }


def test_bad_datetime() -> None:
    with bad("measure 'm': an ISO 8601 DateTime expected, got 'soon'"):
        one("DateTime", "soon")


# ---------------------------------------------------------------------------------------------
# to_attributes: metadata


def test_unit_code_in_iota_form() -> None:
    got = one("Number", "21.5", unitCode={"type": "Text", "value": "CEL"})
    assert got == {"type": "Property", "value": 21.5, "unitCode": "CEL"}


def test_unit_code_as_plain_string() -> None:
    assert one("Number", "21.5", unitCode="CEL") == {
        "type": "Property",
        "value": 21.5,
        "unitCode": "CEL",
    }


@pytest.mark.parametrize("unit", ["", 5, {"type": "Text", "value": None}])
def test_bad_unit_code(unit: Any) -> None:
    with bad("attribute 'a': metadata 'unitCode' must be a non-empty string"):
        one("Number", "1", unitCode=unit)


def test_other_metadata_become_sub_properties() -> None:
    got = one(
        "Number",
        "21.5",
        accuracy={"type": "Number", "value": "0.5"},
        sensor="DHT22",
        calibratedAt={"type": "DateTime", "value": T0},
        source={"type": "Relationship", "value": "urn:ngsi-ld:Device:d1"},
    )
    assert got == {
        "type": "Property",
        "value": 21.5,
        "accuracy": {"type": "Property", "value": 0.5},
        "sensor": {"type": "Property", "value": "DHT22"},
        "calibratedAt": {"type": "Property", "value": {"@type": "DateTime", "@value": T0}},
        "source": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
    }


def test_metadata_object_without_value_is_the_value() -> None:
    got = one("Text", "x", extra={"a": 1})
    assert got["extra"] == {"type": "Property", "value": {"a": 1}}


@pytest.mark.parametrize("meta", ["observedAt", "value", "type", "id", "bad name"])
def test_bad_metadata_names(meta: str) -> None:
    with bad(f"attribute 'a': metadata '{meta}'"):
        one("Text", "x", **{meta: "v"})


def test_bad_metadata_value() -> None:
    with bad("attribute 'a': metadata 'accuracy': Number expected"):
        one("Text", "x", accuracy={"type": "Number", "value": "high"})


def test_metadata_of_an_absent_measure_is_not_checked() -> None:
    mapping = AttrMap(name="a", type="Number", object_id="m", metadata={"observedAt": "x"})
    assert attrs_of({"h": "1"}, mapping) == {"h": {"type": "Property", "value": "1"}}


# ---------------------------------------------------------------------------------------------
# to_attributes: static attributes


def test_static_attributes_converted_like_measures() -> None:
    statics = (
        StaticAttr(name="floor", type="Number", value="3"),
        StaticAttr(name="location", type="geo:point", value="37.4292,126.9876"),
        StaticAttr(name="refBuilding", type="Relationship", value="urn:ngsi-ld:Building:b1"),
        StaticAttr(name="info", type="StructuredValue", value={"a": [1, 2]}),
        StaticAttr(
            name="size",
            type="Number",
            value=12,
            metadata={"unitCode": "MTK", "note": {"type": "Text", "value": "approx"}},
        ),
    )
    assert attrs_of({}, static_attributes=statics) == {
        "floor": {"type": "Property", "value": 3},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [126.9876, 37.4292]},
        },
        "refBuilding": {"type": "Relationship", "object": "urn:ngsi-ld:Building:b1"},
        "info": {"type": "Property", "value": {"a": [1, 2]}},
        "size": {
            "type": "Property",
            "value": 12,
            "unitCode": "MTK",
            "note": {"type": "Property", "value": "approx"},
        },
    }


def test_static_attributes_kept_with_explicit_attrs() -> None:
    static = StaticAttr(name="floor", type="Number", value=3)
    got = attrs_of({"h": "1"}, static_attributes=(static,), explicit_attrs=True)
    assert got == {"floor": {"type": "Property", "value": 3}}


def test_measure_wins_over_static_attribute_of_same_name() -> None:
    static = StaticAttr(name="h", type="Number", value=0)
    assert attrs_of({"h": "40"}, static_attributes=(static,)) == {
        "h": {"type": "Property", "value": "40"}
    }


def test_bad_static_value_names_the_static_attribute() -> None:
    static = StaticAttr(name="floor", type="Number", value="third")
    with bad("static attribute 'floor': Number expected"):
        attrs_of({}, static_attributes=(static,))


# ---------------------------------------------------------------------------------------------
# to_attributes: attribute names


@pytest.mark.parametrize("name", ["id", "type", "@context", "scope", "createdAt"])
def test_reserved_measure_names(name: str) -> None:
    with bad(f"measure '{name}': attribute name: '{name}' is reserved"):
        attrs_of({name: "x"})


@pytest.mark.parametrize("name", ["id", "type", "@context"])
def test_reserved_mapped_names(name: str) -> None:
    with bad(f"measure 'm': attribute name: '{name}' is reserved"):
        attrs_of({"m": "x"}, AttrMap(name=name, object_id="m"))


@pytest.mark.parametrize("name", ["bad name", "a<b", "@vocab", "x;y"])
def test_invalid_measure_names(name: str) -> None:
    with bad("invalid attribute name"):
        attrs_of({name: "x"})


def test_reserved_static_name() -> None:
    with bad("static attribute 'type': 'type' is reserved"):
        attrs_of({}, static_attributes=(StaticAttr(name="type", type="Text", value="x"),))


def test_iri_attribute_name_allowed() -> None:
    name = "https://example.org/ns#temperature"
    assert attrs_of({name: "1"}) == {name: {"type": "Property", "value": "1"}}


# ---------------------------------------------------------------------------------------------
# end to end


def test_ultralight_groups_to_attributes() -> None:
    dev = device(
        AttrMap(name="temperature", type="Number", object_id="t", metadata={"unitCode": "CEL"}),
        AttrMap(name="occupied", type="Boolean", object_id="o"),
        static_attributes=(StaticAttr(name="category", type="Text", value="sensor"),),
        timestamp=True,
    )
    groups = parse_ultralight(f"t|21.5|o|1\n#TimeInstant|{T0}|t|22")
    assert [to_attributes(g, dev, NOW) for g in groups] == [
        {
            "temperature": {
                "type": "Property",
                "value": 21.5,
                "unitCode": "CEL",
                "observedAt": NOW,
            },
            "occupied": {"type": "Property", "value": True, "observedAt": NOW},
            "category": {"type": "Property", "value": "sensor", "observedAt": NOW},
        },
        {
            "temperature": {"type": "Property", "value": 22, "unitCode": "CEL", "observedAt": T0},
            "category": {"type": "Property", "value": "sensor", "observedAt": T0},
        },
    ]


def test_attributes_are_fresh_objects() -> None:
    static = StaticAttr(name="info", type="Text", value="x", metadata={"unitCode": "CEL"})
    dev = device(static_attributes=(static,), timestamp=True)
    first = to_attributes({}, dev, NOW)
    first["info"]["observedAt"] = "changed"
    assert to_attributes({}, dev, NOW)["info"]["observedAt"] == NOW
    assert static.metadata == {"unitCode": "CEL"}


# ---------------------------------------------------------------------------------------------
# entity_id_for


def test_entity_id_default() -> None:
    assert entity_id_for("sensor01", "Room", None) == "urn:ngsi-ld:Room:sensor01"


def test_entity_id_empty_name_is_no_name() -> None:
    assert entity_id_for("sensor01", "Room", "") == "urn:ngsi-ld:Room:sensor01"


def test_entity_id_uri_name_as_given() -> None:
    assert entity_id_for("sensor01", "Room", "urn:ngsi-ld:Room:r1") == "urn:ngsi-ld:Room:r1"
    assert entity_id_for("s", "Room", "https://example.org/r/1") == "https://example.org/r/1"


def test_entity_id_plain_name_prefixed() -> None:
    assert entity_id_for("sensor01", "Room", "Room1") == "urn:ngsi-ld:Room:Room1"


@pytest.mark.parametrize(
    ("device_id", "name"), [("sensor 01", None), ("s", "room 1"), ("s", "a<b>")]
)
def test_entity_id_not_a_uri(device_id: str, name: str | None) -> None:
    with bad("is not a valid entity id"):
        entity_id_for(device_id, "Room", name)


def test_static_values_are_copied() -> None:
    static = StaticAttr(name="info", type="Text", value={"a": [1]})
    got = attrs_of({}, static_attributes=(static,))
    got["info"]["value"]["a"].append(2)
    assert static.value == {"a": [1]}
