"""Linked-service API (see cityhub/ops/linked.py and docs/operations-center.md).

Plain JSON, for agency accounts (``linked:request``):

- ``POST /cityhub/v1/linked/requests`` ``{"service", "location", "place"?, "description"?,
  "reference"?, "severity"?, "cameras"?, "maxDistance"?, "minutes"?, "station"?}`` → 201 with
  the request, its event, cameras, grants (and route, for 119); 200 with the first answer when
  the same ``reference`` was filed before;
- ``GET /cityhub/v1/linked/requests[?service=&limit=]``, ``GET .../requests/{id}``: an agency
  sees its own requests only;
- ``POST /cityhub/v1/linked/requests/{id}/arrival`` ``{"at"?}``: a 119 unit reached the scene.

The integrated-platform message form, for existing agency systems (session key from
``/api/getAuth.json``, like ``/linkHttp/recvEvent.json``):

- ``POST /linkHttp/recvRequest.json`` ``{"header": {"svcTy": "EVENT", "sendCd", ...},
  "body": {"lnkSvc" (or an ``evtId`` that is a service's code), "evtId"?, "evtNm"?, "evtGrad"?,
  "ocrNbr" (the agency's case number), "ocrLc": {"crdntX", "crdntY"}, "ocrPlc", "ocrEvtCn"}}``
  → ``{"result", "message": <request id>, "data": <the answer>}``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData, NgsiError
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ngsild.models import now_iso
from cityhub.ops.interwork import Refused, answer, message, session_user
from cityhub.ops.linked import SERVICES, Filed, LinkedService
from cityhub.ops.linked import Request as LinkedRequest

BASE = "/cityhub/v1/linked/requests"
_GRADES = {"1": "critical", "2": "high", "3": "medium", "4": "low", "5": "informational"}


def _service(request: Request) -> LinkedService:
    found: LinkedService = hub_of(request).extras["linked"]
    return found


def _staff(request: Request) -> bool:
    return principal_of(request).access(tenant_of(request)).allows("events:write")


def _agency_filter(request: Request) -> str | None:
    """None for the center's staff (they see every request); an agency sees its own."""
    return None if _staff(request) else principal_of(request).name


async def _file(request: Request, req: LinkedRequest, agency: str) -> tuple[Filed, bool]:
    """File a request and put it, and every grant it made, in the audit log."""
    tenant = tenant_of(request)
    filed, new = await _service(request).request(tenant, req, agency)
    if new:
        await record_request(
            request,
            "linked.request",
            target=filed.event_id,
            tenant=tenant,
            detail={"request": filed.id, "service": filed.service, "agency": agency},
        )
        for g in filed.response["grants"]:
            detail = {
                "event": filed.event_id,
                "agency": agency,
                "purpose": g["purpose"],
                "expires": g["expiresAt"],
                "grant": g["id"],
                "request": filed.id,
            }
            await record_request(
                request, "cctv.grant", target=g["cameraId"], detail=detail, tenant=tenant
            )
    return filed, new


async def create(request: Request) -> Response:
    """POST /cityhub/v1/linked/requests."""
    body = await read_json(request, 64 * 1024)
    hub = hub_of(request)
    req = LinkedRequest.from_json(body, hub.settings.linked_grant_minutes)
    agency = principal_of(request).name
    named = body.get("agency") if isinstance(body, dict) else None
    if named is not None:
        # the center's staff may file for an agency (a request taken by phone)
        if not isinstance(named, str) or not named:
            raise BadRequestData("agency must be an account name")
        if not _staff(request):
            raise BadRequestData("only the center's staff file requests for another agency")
        agency = named
    filed, new = await _file(request, req, agency)
    return json_response(filed.json(), status=201 if new else 200)


async def list_requests(request: Request) -> Response:
    """GET /cityhub/v1/linked/requests."""
    service = request.query_params.get("service") or None
    if service is not None and service not in SERVICES:
        raise BadRequestData(f"service must be one of {', '.join(SERVICES)}")
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequestData("limit is 1-1000")
    found = await _service(request).requests(
        tenant_of(request), _agency_filter(request), service, int(raw)
    )
    return json_response([f.json() for f in found])


async def get_request(request: Request) -> Response:
    """GET /cityhub/v1/linked/requests/{id}."""
    filed = await _service(request).get(
        tenant_of(request), request.path_params["id"], _agency_filter(request)
    )
    return json_response(filed.json())


async def arrival(request: Request) -> Response:
    """POST /cityhub/v1/linked/requests/{id}/arrival."""
    body = await read_json(request, 4096) if (await request.body()).strip() else None
    at = now_iso()
    if isinstance(body, dict) and body.get("at") is not None:
        raw = body["at"]
        try:
            parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError as err:
            raise BadRequestData(f"at must be an ISO 8601 date-time, not {raw!r}") from err
        if parsed.tzinfo is None:
            raise BadRequestData("at needs a time zone (Z or an offset)")
        at = parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if at > now_iso():
            raise BadRequestData("at is in the future")
    elif body is not None and not isinstance(body, dict):
        raise BadRequestData('the body is {"at": <date-time>} or empty')
    tenant, request_id = tenant_of(request), request.path_params["id"]
    filed = await _service(request).arrived(tenant, request_id, _agency_filter(request), at)
    await record_request(
        request, "linked.arrival", target=filed.event_id, tenant=tenant, detail={"at": at}
    )
    return json_response(filed.json())


async def recv_request(request: Request) -> Response:
    """POST /linkHttp/recvRequest.json: a request in the integrated-platform message form."""
    hub = hub_of(request)
    try:
        header, body = await message(request, ("EVENT",))
        agency = await session_user(request, header)
        code = str(body.get("evtId") or "")
        service = body.get("lnkSvc") or next(
            (k.id for k in SERVICES.values() if k.code == code), None
        )
        if service not in SERVICES:
            raise Refused(
                f"name the linked service in body.lnkSvc ({', '.join(SERVICES)}) or send its "
                "event code as evtId"
            )
        loc = body.get("ocrLc")
        try:
            lon, lat = float(loc["crdntX"]), float(loc["crdntY"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            raise Refused("ocrLc needs numeric crdntX (longitude) and crdntY (latitude)") from None
        number = body.get("ocrNbr")
        if not isinstance(number, str | int) or not str(number):
            raise Refused("the message needs body.ocrNbr (the case number)")
        plain = {
            "service": service,
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "place": str(body.get("ocrPlc") or ""),
            "description": str(body.get("ocrEvtCn") or ""),
            "reference": f"{header.get('sendCd') or ''}:{number}",
            "severity": _GRADES.get(str(body.get("evtGrad", "")), ""),
            "eventCode": code if code and code != SERVICES[str(service)].code else "",
            "eventName": str(body.get("evtNm") or ""),
        }
        req = LinkedRequest.from_json(plain, hub.settings.linked_grant_minutes)
        filed, _new = await _file(request, req, agency)
    except Refused as why:
        return answer(request, False, str(why))
    except NgsiError as err:
        return answer(request, False, err.detail)
    return answer(request, True, filed.id, data=filed.json())


routes = [
    method_route(BASE, GET=list_requests, POST=create),
    method_route(f"{BASE}/{{id}}", GET=get_request),
    method_route(f"{BASE}/{{id}}/arrival", POST=arrival),
    method_route("/linkHttp/recvRequest.json", POST=recv_request),
]
