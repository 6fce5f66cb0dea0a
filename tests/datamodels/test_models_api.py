"""The data-model admin API and the checks it switches on (NGSI-LD API and device ingest), on
both backends, with an operator's own model (the built-in ones are tested in test_builtin)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
M = "/cityhub/v1/models"
E = "/ngsi-ld/v1/entities"

BIN_LEVEL: dict[str, Any] = {
    "title": "Waste bin fill level",
    "schema": {
        "type": "object",
        "required": ["id", "type", "fillingLevel"],
        "properties": {
            "fillingLevel": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "x-ngsi": {"type": "Property", "unitCode": "C62"},
            },
            "status": {"enum": ["ok", "lidOpen", "onFire"], "x-ngsi": {"type": "Property"}},
            "refDevice": {"type": "string", "format": "uri", "x-ngsi": {"type": "Relationship"}},
            "emptiedAt": {"type": "string", "format": "date-time"},
        },
    },
}


def _bin(ident: str = "urn:ngsi-ld:BinLevel:1", **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ident,
        "type": "BinLevel",
        "fillingLevel": {"type": "Property", "value": 0.4, "unitCode": "C62"},
        "status": {"type": "Property", "value": "ok"},
    }
    return body | attrs


async def _put(client: httpx.AsyncClient, enforce: bool = True) -> None:
    r = await client.put(f"{M}/BinLevel", json=BIN_LEVEL | {"enforce": enforce})
    assert r.status_code in (201, 204), r.text


async def test_add_show_list_delete(client: httpx.AsyncClient) -> None:
    r = await client.put(f"{M}/BinLevel", json=BIN_LEVEL)
    assert r.status_code == 201 and r.headers["location"] == f"{M}/BinLevel"
    assert (await client.put(f"{M}/BinLevel", json=BIN_LEVEL)).status_code == 204
    shown = (await client.get(f"{M}/BinLevel")).json()
    assert shown["origin"] == "custom" and shown["enforce"] is False
    assert shown["schema"] == BIN_LEVEL["schema"] and shown["title"] == "Waste bin fill level"
    listed = {m["type"]: m for m in (await client.get(M)).json()}
    assert "schema" not in listed["BinLevel"]
    assert (await client.delete(f"{M}/BinLevel")).status_code == 204
    assert_problem(await client.get(f"{M}/BinLevel"), "ResourceNotFound", 404)
    assert_problem(await client.delete(f"{M}/BinLevel"), "ResourceNotFound", 404)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"schema": {"type": "nonsense"}}, "not a usable JSON Schema"),
        ({"schema": []}, "must be a JSON object"),
        ({"schema": {"properties": {"a": {"x-ngsi": {"type": "Prop"}}}}}, "x-ngsi.type of a"),
        ({"schema": {"$ref": "https://example.org/s.json"}}, "not a usable JSON Schema"),
        ({"title": "no schema"}, "needs a schema"),
        ({"schema": {}, "enforce": "yes"}, "enforce must be true or false"),
        ({"schema": {}, "colour": 1}, "unknown members in a data model: colour"),
        ({"schema": {}, "extends": True}, "no built-in BinLevel model to extend"),
    ],
)
async def test_bad_models_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    problem = assert_problem(await client.put(f"{M}/BinLevel", json=body), "BadRequestData", 400)
    assert says in problem["detail"]
    assert_problem(await client.get(f"{M}/BinLevel"), "ResourceNotFound", 404)


async def test_api_checks_only_enforced_types(client: httpx.AsyncClient) -> None:
    await _put(client, enforce=False)
    bad = _bin(fillingLevel={"type": "Property", "value": 7})
    assert (await client.post(E, json=bad)).status_code == 201  # not enforced: taken
    r = await client.patch(f"{M}/BinLevel", json={"enforce": True})
    assert r.status_code == 204, r.text
    assert (await client.get(f"{M}/BinLevel")).json()["enforce"] is True
    problem = assert_problem(
        await client.post(E, json=bad | {"id": "urn:ngsi-ld:BinLevel:2"}), "BadRequestData", 400
    )
    assert "fillingLevel: 7 is greater than the maximum of 1" in problem["detail"]
    assert_problem(await client.get(f"{E}/urn:ngsi-ld:BinLevel:2"), "ResourceNotFound", 404)


async def test_each_rule_is_named(client: httpx.AsyncClient) -> None:
    await _put(client)
    cases = [
        (_bin(status={"type": "Property", "value": "full"}), 'status: "full" is not one of'),
        (
            _bin(fillingLevel={"type": "Property", "value": 0.5, "unitCode": "P1"}),
            "fillingLevel: unitCode must be C62, not P1",
        ),
        (
            _bin(refDevice={"type": "Property", "value": "urn:ngsi-ld:Device:1"}),
            "refDevice: must be a Relationship, not a Property",
        ),
        (
            _bin(emptiedAt={"type": "Property", "value": "yesterday"}),
            'emptiedAt: "yesterday" is not a "date-time"',
        ),
        ({"id": "urn:ngsi-ld:BinLevel:1", "type": "BinLevel"}, '"fillingLevel" is a required'),
    ]
    for entity, says in cases:
        problem = assert_problem(await client.post(E, json=entity), "BadRequestData", 400)
        assert says in problem["detail"], problem["detail"]
        assert "does not fit the BinLevel data model" in problem["detail"]
    assert (await client.post(E, json=_bin())).status_code == 201


async def test_updates_check_what_they_change(client: httpx.AsyncClient) -> None:
    await _put(client)
    assert (await client.post(E, json=_bin())).status_code == 201
    url = f"{E}/urn:ngsi-ld:BinLevel:1"
    bad = {"fillingLevel": {"type": "Property", "value": -1}}
    assert_problem(await client.patch(f"{url}/attrs", json=bad), "BadRequestData", 400)
    assert_problem(
        await client.patch(f"{url}/attrs/fillingLevel", json={"value": 2}), "BadRequestData", 400
    )
    assert_problem(await client.patch(url, json=bad), "BadRequestData", 400)  # merge-patch
    assert (await client.get(url)).json()["fillingLevel"]["value"] == 0.4  # nothing changed
    # a partial update need not repeat required attributes; removing one is refused
    ok = {"status": {"type": "Property", "value": "lidOpen"}}
    assert (await client.patch(f"{url}/attrs", json=ok)).status_code == 204
    problem = assert_problem(
        await client.delete(f"{url}/attrs/fillingLevel"), "BadRequestData", 400
    )
    assert "fillingLevel: required by the data model" in problem["detail"]
    assert "fillingLevel" in (await client.get(url)).json()


async def test_batch_fails_only_the_bad_entity(client: httpx.AsyncClient) -> None:
    await _put(client)
    good, bad = _bin(), _bin("urn:ngsi-ld:BinLevel:9", status={"type": "Property", "value": 1})
    r = await client.post("/ngsi-ld/v1/entityOperations/upsert", json=[good, bad])
    assert r.status_code == 207, r.text
    errors = r.json()["errors"]
    assert [e["entityId"] for e in errors] == ["urn:ngsi-ld:BinLevel:9"]
    assert "status: 1 is not one of" in errors[0]["error"]["detail"]
    assert (await client.get(f"{E}/urn:ngsi-ld:BinLevel:1")).status_code == 200


async def test_validate_writes_nothing(client: httpx.AsyncClient) -> None:
    await _put(client, enforce=False)
    r = await client.post(f"{M}/BinLevel/validate", json=_bin())
    assert r.json() == {"valid": True, "errors": []}
    r = await client.post(
        f"{M}/BinLevel/validate", json=_bin(fillingLevel={"type": "Property", "value": "full"})
    )
    assert r.json()["valid"] is False
    assert r.json()["errors"] == ['fillingLevel: "full" is not of type "number"']
    assert_problem(await client.get(f"{E}/urn:ngsi-ld:BinLevel:1"), "ResourceNotFound", 404)
    assert_problem(
        await client.post(f"{M}/NoSuchType/validate", json=_bin()), "ResourceNotFound", 404
    )


async def test_ingest_always_checks_and_replay_after_fixing_the_model(
    client: httpx.AsyncClient,
) -> None:
    await _put(client, enforce=False)  # ingest holds devices to the model all the same
    group = {
        "apikey": "k-bins",
        "resource": "/iot/json",
        "entity_type": "BinLevel",
        "attributes": [{"object_id": "f", "name": "fillingLevel", "type": "Number"}],
    }
    assert (await client.post("/iot/services", json={"services": [group]})).status_code == 201
    r = await client.post("/iot/json?k=k-bins&i=bin-7", json={"f": 1.2})
    problem = assert_problem(r, "BadRequestData", 400)
    assert "fillingLevel: 1.2 is greater than the maximum of 1" in problem["detail"]
    letters = (await client.get("/iot/dead-letters")).json()["deadLetters"]
    assert len(letters) == 1 and "maximum of 1" in letters[0]["reason"]
    # the city decides fill levels are percentages after all: fix the model, replay
    percent = {**BIN_LEVEL["schema"]["properties"]["fillingLevel"], "maximum": 100}
    schema = {**BIN_LEVEL["schema"], "required": ["id", "type"]}
    schema["properties"] = {**schema["properties"], "fillingLevel": percent}
    assert (await client.put(f"{M}/BinLevel", json={"schema": schema})).status_code == 204
    r = await client.post(f"/iot/dead-letters/{letters[0]['id']}/replay")
    assert r.status_code == 204, r.text
    assert (await client.get("/iot/dead-letters")).json()["count"] == 0
    entity = (await client.get(f"{E}/urn:ngsi-ld:BinLevel:bin-7")).json()
    assert entity["fillingLevel"]["value"] == 1.2
