"""The situation rules API under ``/cityhub/v1/rules`` (per tenant, ``NGSILD-Tenant``).

- ``GET /cityhub/v1/rules``, ``POST /cityhub/v1/rules`` (201, ``Location``);
- ``GET /cityhub/v1/rules/{id}`` (the rule, with ``state``: its active and pending
  conditions), ``PUT`` (replace), ``DELETE`` (204);
- ``POST /cityhub/v1/rules/{id}/dry-run?from=&to=``: the events the rule (or the rule in the
  body, if one is sent) would have raised and cleared over the history of its entities;
  writes nothing.

Reading needs ``events:read``, changing ``events:write`` (the events rules raise are the
operations center's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.rules.dryrun import dry_run
from cityhub.ops.rules.service import RulesService
from cityhub.ops.rules.store import StoredRule
from cityhub.temporal.model import parse_time, to_micros

BASE = "/cityhub/v1/rules"
_MAX_BODY = 256 * 1024
_DRY_RUN_SPAN = timedelta(days=1)


def _service(request: Request) -> RulesService:
    found: RulesService = hub_of(request).extras["rules"]
    return found


def _render(stored: StoredRule) -> dict[str, Any]:
    return stored.doc | {"createdAt": stored.created_at, "modifiedAt": stored.modified_at}


async def list_rules(request: Request) -> Response:
    """GET /cityhub/v1/rules."""
    rules = await _service(request).list(tenant_of(request))
    return json_response([_render(r) for r in rules])


async def create_rule(request: Request) -> Response:
    """POST /cityhub/v1/rules."""
    body = await read_json(request, _MAX_BODY)
    rule = await _service(request).create(tenant_of(request), body)
    await record_request(
        request,
        "rule.create",
        target=rule.id,
        tenant=tenant_of(request),
        detail={"kind": rule.kind},
    )
    stored, _ = await _service(request).get(tenant_of(request), rule.id)
    return json_response(_render(stored), status=201, headers={"Location": f"{BASE}/{rule.id}"})


async def get_rule(request: Request) -> Response:
    """GET /cityhub/v1/rules/{id}."""
    stored, state = await _service(request).get(tenant_of(request), request.path_params["id"])
    return json_response(_render(stored) | {"state": state})


async def replace_rule(request: Request) -> Response:
    """PUT /cityhub/v1/rules/{id}."""
    body = await read_json(request, _MAX_BODY)
    rule_id = request.path_params["id"]
    rule = await _service(request).replace(tenant_of(request), rule_id, body)
    await record_request(
        request,
        "rule.replace",
        target=rule_id,
        tenant=tenant_of(request),
        detail={"kind": rule.kind},
    )
    stored, _ = await _service(request).get(tenant_of(request), rule_id)
    return json_response(_render(stored))


async def delete_rule(request: Request) -> Response:
    """DELETE /cityhub/v1/rules/{id}."""
    rule_id = request.path_params["id"]
    await _service(request).delete(tenant_of(request), rule_id)
    await record_request(request, "rule.delete", target=rule_id, tenant=tenant_of(request))
    return Response(status_code=204)


async def dry_run_rule(request: Request) -> Response:
    """POST /cityhub/v1/rules/{id}/dry-run?from=&to=."""
    service = _service(request)
    tenant, rule_id = tenant_of(request), request.path_params["id"]
    params = request.query_params
    end = parse_time(params["to"], "to") if params.get("to") else to_micros(datetime.now(UTC))
    start = (
        parse_time(params["from"], "from")
        if params.get("from")
        else end - to_micros(datetime(1970, 1, 1, tzinfo=UTC) + _DRY_RUN_SPAN)
    )
    if start >= end:
        raise BadRequestData("dry run: from must be before to")
    has_body = request.headers.get("content-length", "0") not in ("", "0")
    if has_body:
        body = await read_json(request, _MAX_BODY)
        if isinstance(body, dict):
            body = {"id": rule_id} | body
        rule = service.check_rule(tenant, body, rule_id)
    else:
        await service.get(tenant, rule_id)  # ResourceNotFound
        await service.reload()
        found = service.rules.get(tenant, {}).get(rule_id)
        if found is None:
            raise BadRequestData(f"rule {rule_id} cannot be used any more; replace it")
        rule = found
    temporal = request.app.state.temporal
    return json_response(await dry_run(service, temporal, rule, start, end))


routes = [
    method_route(BASE, GET=list_rules, POST=create_rule),
    method_route(f"{BASE}/{{id}}", GET=get_rule, PUT=replace_rule, DELETE=delete_rule),
    method_route(f"{BASE}/{{id}}/dry-run", POST=dry_run_rule),
]
