"""The built-in data models: each compiles, takes its valid examples and refuses its invalid
ones for the reason the example names (tests/datamodels/examples/<Type>.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cityhub.datamodels.model import Checker
from cityhub.datamodels.registry import builtin_models
from cityhub.errors import BadRequestData
from cityhub.ngsild import merge, models
from cityhub.ngsild.context import ContextLoader
from cityhub.ngsild.models import now_iso
from tests.ngsild_api import assert_problem

EXAMPLES = Path(__file__).parent / "examples"
MODELS = builtin_models()
CITY_TYPES = {
    "ParkingSpot",
    "OffStreetParking",
    "OnStreetParking",
    "AirQualityObserved",
    "WeatherObserved",
    "Device",
    "TrafficFlowObserved",
    "WaterQualityObserved",
    "WaterConsumptionObserved",
    "Streetlight",
    "WasteContainer",
    "FireHydrant",
    "CCTVCamera",
    "StructuralHealthObserved",
    "CityEvent",
    "District",
    "ParkingViolation",
    "EnforcementZone",
    "Facility",
    "ElectricalPanel",
    "CrosswalkObserved",
    "CareHousehold",
    "FloodMonitoring",
    "GtfsRoute",
}


async def _no_fetch(url: str) -> Any:
    raise AssertionError(f"no @context should be fetched: {url}")


CORE = ContextLoader(_no_fetch).core


def _stored(payload: dict[str, Any]) -> dict[str, Any]:
    core = CORE
    return merge.new_entity(models.parse_entity(payload, core), now_iso())


def _examples(kind: str) -> list[tuple[str, Any]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        for case in orjson.loads(path.read_bytes())[kind]:
            found.append((path.stem, case))
    return found


def test_every_city_type_has_a_model_and_examples() -> None:
    assert set(MODELS) >= CITY_TYPES
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(MODELS)
    for model in MODELS.values():
        assert model.title and model.description and model.source
        props = model.schema["properties"]
        assert all("x-ngsi" in p for name, p in props.items() if name not in ("id", "type"))


@pytest.mark.parametrize(("type_name", "entity"), _examples("valid"))
def test_valid_examples_fit(type_name: str, entity: dict[str, Any]) -> None:
    assert Checker.of(MODELS[type_name]).errors(None, _stored(entity)) == []


@pytest.mark.parametrize(("type_name", "case"), _examples("invalid"))
def test_invalid_examples_are_refused_for_their_reason(
    type_name: str, case: dict[str, Any]
) -> None:
    try:
        entity = _stored(case["entity"])
    except BadRequestData:  # refused before any model: not NGSI-LD (e.g. a bad geometry)
        assert case["attribute"] == "location", case["why"]
        return
    errors = Checker.of(MODELS[type_name]).errors(None, entity)
    assert errors, case["why"]
    assert all(e.startswith(case["attribute"]) for e in errors), (case["why"], errors)


@pytest.mark.anyio
async def test_extending_a_builtin_model(client: httpx.AsyncClient) -> None:
    """A city adds a rule of its own on top of AirQualityObserved (a station code format);
    both the built-in rules and the extension hold once the type is enforced."""
    extension = {
        "type": "object",
        "required": ["stationCode"],
        "properties": {
            "stationCode": {
                "type": "string",
                "pattern": "^[0-9]{6}$",
                "x-ngsi": {"type": "Property"},
            }
        },
    }
    body = {"schema": extension, "extends": True, "enforce": True}
    r = await client.put("/cityhub/v1/models/AirQualityObserved", json=body)
    assert r.status_code == 204, r.text  # the type had a model already
    shown = (await client.get("/cityhub/v1/models/AirQualityObserved")).json()
    assert shown["origin"] == "extended" and shown["extension"] == extension
    station = {
        "id": "urn:ngsi-ld:AirQualityObserved:Jongno",
        "type": "AirQualityObserved",
        "stationCode": {"type": "Property", "value": "111123"},
        "pm10": {"type": "Property", "value": 48, "unitCode": "GQ"},
    }
    bad_pm = {**station, "pm10": {"type": "Property", "value": -5, "unitCode": "GQ"}}
    problem = assert_problem(
        await client.post("/ngsi-ld/v1/entities", json=bad_pm), "BadRequestData", 400
    )
    assert "pm10" in problem["detail"]
    no_code = {k: v for k, v in station.items() if k != "stationCode"}
    problem = assert_problem(
        await client.post("/ngsi-ld/v1/entities", json=no_code), "BadRequestData", 400
    )
    assert '"stationCode" is a required property' in problem["detail"]
    assert (await client.post("/ngsi-ld/v1/entities", json=station)).status_code == 201
    # removing the changes puts the shipped model back, not enforced
    assert (await client.delete("/cityhub/v1/models/AirQualityObserved")).status_code == 204
    shown = (await client.get("/cityhub/v1/models/AirQualityObserved")).json()
    assert shown["origin"] == "builtin" and shown["enforce"] is False
    assert (
        await client.post("/ngsi-ld/v1/entities", json={**bad_pm, "id": "urn:x:2"})
    ).status_code == 201
