"""SOP API (see cityhub/ops/sop.py and docs/operations-center.md, SOPs).

- ``GET /cityhub/v1/sops``: the tenant's templates, built-in and own (``builtin``);
- ``GET /cityhub/v1/sops/overdue``: open events with pending steps past their time;
- ``GET|PUT|DELETE /cityhub/v1/sops/{id}``: one template; PUT stores the tenant's own
  (overriding a built-in of that id), DELETE removes it (409 for a built-in);
- ``POST /cityhub/v1/events/{id}/sop`` ``{"template"?}``: start the checklist;
  ``GET`` the same path reads it;
- ``POST /cityhub/v1/events/{id}/sop/steps/{step}`` ``{"status": "done"|"skipped",
  "comment"?}``: tick a step off;
- ``GET /cityhub/v1/inbox?agency=&limit=&offset=``: agency messages (an agency sees its own).

Starts and ticks are in the audit log (``sop.start``, ``sop.step``), template changes too
(``sop.template``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData, Forbidden
from cityhub.guard.outbound import check_outbound
from cityhub.ngsild.http import json_response, method_route, parse_int, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.actions import WEB, webhook_urls
from cityhub.ops.inbox import Inbox
from cityhub.ops.sop import SopService
from cityhub.ops.sop_templates import check_id, check_template

BASE = "/cityhub/v1/sops"
EVENTS = "/cityhub/v1/events"
_BODY_MAX = 256 * 1024


def _service(request: Request) -> SopService:
    found: SopService = hub_of(request).extras["sops"]
    return found


async def _optional_json(request: Request) -> Any:
    """The JSON body, or {} when there is none."""
    if request.headers.get("content-length", "0") == "0" and (
        "transfer-encoding" not in request.headers
    ):
        return {}
    return await read_json(request, _BODY_MAX)


async def list_templates(request: Request) -> Response:
    """GET /cityhub/v1/sops."""
    return json_response(await _service(request).templates.every(tenant_of(request)))


async def get_template(request: Request) -> Response:
    """GET /cityhub/v1/sops/{id}."""
    found = await _service(request).templates.get(tenant_of(request), request.path_params["id"])
    return json_response(found)


async def put_template(request: Request) -> Response:
    """PUT /cityhub/v1/sops/{id}: 201 when the tenant had no template of that id, else 200."""
    hub = hub_of(request)
    template_id = check_id(request.path_params["id"])
    doc = check_template(await read_json(request, _BODY_MAX), template_id)
    for i, step in enumerate(doc["steps"]):
        for url in webhook_urls(step.get("auto", {})):
            try:  # refused early; checked again before every connection
                await check_outbound(url, hub.settings, schemes=WEB, unresolved_ok=True)
            except BadRequestData as err:
                raise BadRequestData(f"steps[{i}].auto.url: {err.detail}") from err
    tenant = tenant_of(request)
    service = _service(request)
    created = await service.templates.put(tenant, doc, principal_of(request).name)
    await record_request(
        request, "sop.template", target=template_id, tenant=tenant, detail={"op": "put"}
    )
    found = await service.templates.get(tenant, template_id)
    return json_response(found, status=201 if created else 200)


async def delete_template(request: Request) -> Response:
    """DELETE /cityhub/v1/sops/{id}: 204; a built-in it overrode is in force again."""
    tenant, template_id = tenant_of(request), request.path_params["id"]
    await _service(request).templates.delete(tenant, template_id)
    await record_request(
        request, "sop.template", target=template_id, tenant=tenant, detail={"op": "delete"}
    )
    return Response(status_code=204)


async def overdue(request: Request) -> Response:
    """GET /cityhub/v1/sops/overdue."""
    return json_response(await _service(request).overdue(tenant_of(request)))


async def start(request: Request) -> Response:
    """POST /cityhub/v1/events/{id}/sop: 201 with the checklist."""
    body = await _optional_json(request)
    if not isinstance(body, dict) or set(body) - {"template"}:
        raise BadRequestData('the body is empty or {"template": id}')
    template = body.get("template")
    if template is not None:
        check_id(template, "template")
    tenant, event_id = tenant_of(request), request.path_params["id"]
    sop = await _service(request).start(tenant, event_id, template, principal_of(request).name)
    failed = [s["id"] for s in sop["steps"] if s.get("status") == "failed"]
    await record_request(
        request,
        "sop.start",
        target=event_id,
        tenant=tenant,
        detail={"template": sop["template"], "automatic": False, "failed": failed},
    )
    return json_response(sop, status=201)


async def get_checklist(request: Request) -> Response:
    """GET /cityhub/v1/events/{id}/sop."""
    sop = await _service(request).checklist(tenant_of(request), request.path_params["id"])
    return json_response(sop)


async def tick(request: Request) -> Response:
    """POST /cityhub/v1/events/{id}/sop/steps/{step}: the checklist after the tick."""
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise BadRequestData('a tick is {"status": "done" | "skipped", "comment"?}')
    unknown = sorted(set(body) - {"status", "comment"})
    if unknown:
        raise BadRequestData(f"unknown members in a tick: {', '.join(unknown)}")
    comment = body.get("comment", "")
    if not isinstance(comment, str):
        raise BadRequestData("comment must be a text")
    tenant, event_id = tenant_of(request), request.path_params["id"]
    step = request.path_params["step"]
    sop = await _service(request).tick(
        tenant, event_id, step, body["status"], principal_of(request).name, comment
    )
    detail = {"step": step, "status": body["status"]} | ({"comment": comment} if comment else {})
    await record_request(request, "sop.step", target=event_id, tenant=tenant, detail=detail)
    return json_response(sop)


async def inbox(request: Request) -> Response:
    """GET /cityhub/v1/inbox: an agency's own messages; the center's staff (events:write)
    read every agency's, or one's with ``?agency=``."""
    tenant = tenant_of(request)
    principal = principal_of(request)
    wanted = request.query_params.get("agency") or None
    agency = wanted
    if not principal.access(tenant).allows("events:write"):
        if wanted not in (None, principal.name):
            raise Forbidden(f"{principal.name} may read its own inbox only")
        agency = principal.name
    box: Inbox = hub_of(request).extras["inbox"]
    limit = min(parse_int(request, "limit", 100, minimum=1), hub_of(request).settings.max_limit)
    found = await box.messages(tenant, agency, limit=limit, offset=parse_int(request, "offset", 0))
    return json_response([m.json() for m in found])


routes = [
    method_route(BASE, GET=list_templates),
    method_route(f"{BASE}/overdue", GET=overdue),
    method_route(f"{BASE}/{{id}}", GET=get_template, PUT=put_template, DELETE=delete_template),
    method_route(f"{EVENTS}/{{id}}/sop", GET=get_checklist, POST=start),
    method_route(f"{EVENTS}/{{id}}/sop/steps/{{step}}", POST=tick),
    method_route("/cityhub/v1/inbox", GET=inbox),
]
