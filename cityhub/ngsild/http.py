"""HTTP plumbing for the NGSI-LD API: media types, @context negotiation, tenants, responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.errors import (
    BadRequestData,
    InvalidRequest,
    NgsiError,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from cityhub.ngsild.context import (
    CORE_CONTEXT_URL,
    ActiveContext,
    ContextLoader,
    parse_link_header,
)

JSON, JSON_LD, GEO_JSON, MERGE_PATCH = (
    "application/json",
    "application/ld+json",
    "application/geo+json",
    "application/merge-patch+json",
)
TENANT_HEADER = "ngsild-tenant"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
_MAX_INT = 2**63 - 1  # integer parameters go to SQL as 64-bit integers


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def accepted(request: Request, allow_geo: bool = False) -> str:
    """Pick the response media type from the Accept header (406 if none fits)."""
    header = request.headers.get("accept", "")
    if not header:
        return JSON
    offers = [JSON, JSON_LD] + ([GEO_JSON] if allow_geo else [])
    best, best_q = None, -1.0
    for part in header.split(","):
        bits = [b.strip() for b in part.split(";")]
        mt = bits[0].lower()
        q = 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        for offer in offers:
            if q > best_q and q > 0 and (mt in (offer, "*/*", "application/*")):
                best, best_q = (offer if mt == offer else JSON), q
                if mt == offer:
                    break
    if best is None:
        raise NotAcceptable(f"cannot answer with any of: {header}; offered: {', '.join(offers)}")
    return best


def tenant_of(request: Request) -> str:
    """The tenant a request names ('' for the default tenant): see :func:`tenant_in`."""
    return tenant_in(request.scope["headers"])


_TENANT_KEYS = (b"ngsild-tenant", b"fiware-service")


def tenant_in(raw_headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The tenant named by ``NGSILD-Tenant``, else by ``fiware-service`` (the FIWARE IoT Agents'
    header), '' for the default tenant. Access is checked in that tenant and the request acts in
    it, so it must be one: headers naming different tenants (both headers, or one given twice)
    are refused with BadRequestData rather than one of them picked."""
    named: dict[bytes, set[str]] = {key: set() for key in _TENANT_KEYS}
    for key, value in raw_headers:
        found = named.get(key.lower())
        if found is not None and value.strip():
            found.add(value.decode("latin-1").strip())
    tenants = named[b"ngsild-tenant"] | named[b"fiware-service"]
    if len(tenants) > 1:
        if len(named[b"ngsild-tenant"]) == 1 and len(named[b"fiware-service"]) == 1:
            raise BadRequestData(
                "the NGSILD-Tenant and fiware-service headers name different tenants"
            )
        raise BadRequestData(
            "the request names more than one tenant: " + ", ".join(sorted(tenants))
        )
    return check_tenant(tenants.pop() if tenants else "")


def check_tenant(name: str) -> str:
    """A tenant name from a header (BadRequestData unless letters, digits, ``_-.``)."""
    tenant = name.strip()
    if tenant and (len(tenant) > 64 or not all(c.isalnum() or c in "_-." for c in tenant)):
        raise BadRequestData(f"invalid tenant name {tenant!r}")
    return tenant


async def read_json(request: Request, max_bytes: int, *, allow_merge_patch: bool = False) -> Any:
    """The parsed JSON body, after media-type and size checks."""
    mt = media_type(request)
    allowed = (JSON, JSON_LD) + ((MERGE_PATCH,) if allow_merge_patch else ())
    if mt not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {mt or '(none)'} not supported; use {' or '.join(allowed)}"
        )
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    if not raw:
        raise InvalidRequest("request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise InvalidRequest(f"request body is not valid JSON: {err}") from err


async def body_context(request: Request, loader: ContextLoader, body: Any) -> ActiveContext:
    """The @context of a write: from the body (ld+json) or the Link header (json)."""
    mt = media_type(request)
    link = request.headers.get("link")
    items = body if isinstance(body, list) else [body]
    if mt == JSON_LD:
        if link:
            raise BadRequestData(
                "application/ld+json requests carry @context in the body, not in a Link header"
            )
        contexts = [i.get("@context") for i in items if isinstance(i, dict)]
        if not contexts or any(c is None for c in contexts):
            raise BadRequestData("application/ld+json body needs an @context member")
        return await loader.resolve(contexts[0])
    if any(isinstance(i, dict) and "@context" in i for i in items):
        raise BadRequestData("@context in the body needs Content-Type application/ld+json")
    return await loader.resolve(parse_link_header(link) if link else None)


async def query_context(request: Request, loader: ContextLoader) -> ActiveContext:
    """The @context of a read (Link header or the core context)."""
    link = request.headers.get("link")
    return await loader.resolve(parse_link_header(link) if link else None)


def context_ref(ctx: ActiveContext) -> Any:
    """How to name the context in a response (its URL(s), or the core context URL)."""
    if not ctx.urls:
        return CORE_CONTEXT_URL
    return ctx.urls[0] if len(ctx.urls) == 1 else list(ctx.urls)


def json_response(
    body: Any,
    *,
    status: int = 200,
    ctx: ActiveContext | None = None,
    mt: str = JSON,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response with the NGSI-LD @context convention for ``mt``."""
    hdrs = dict(headers or {})
    if ctx is not None:
        ref = context_ref(ctx)
        if mt == JSON_LD:
            if isinstance(body, list):
                body = [{"@context": ref, **b} if isinstance(b, dict) else b for b in body]
            elif isinstance(body, dict):
                body = {"@context": ref, **body}
        elif mt == GEO_JSON and isinstance(body, dict):
            body = {**body, "@context": ref}
        else:
            first = ref if isinstance(ref, str) else ref[0]
            hdrs["Link"] = f"<{first}>; {LINK_REL}"
    return Response(orjson.dumps(body), status_code=status, media_type=mt, headers=hdrs)


def problem_response(err: NgsiError) -> Response:
    """ProblemDetails for an NgsiError."""
    return Response(
        orjson.dumps(err.to_problem()), status_code=err.status, media_type="application/json"
    )


def method_not_allowed(request: Request, allow: str) -> Response:
    """405 ProblemDetails naming the methods the resource allows (``Allow`` header)."""
    err = InvalidRequest(f"method {request.method} not allowed on {request.url.path}")
    return Response(
        orjson.dumps({**err.to_problem(), "status": 405}),
        status_code=405,
        media_type="application/json",
        headers={"Allow": allow},
    )


Handler = Callable[[Request], Awaitable[Response]]


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def method_route(path: str, **handlers: Handler) -> Route:
    """One route for a path, dispatching on the HTTP method (405 with ``Allow`` otherwise).

    A route per path instead of per method and path keeps the router's linear scan short.
    """
    return Route(path, by_method(**handlers), methods=_ALL_METHODS)


def by_method(**handlers: Handler) -> Handler:
    """An endpoint calling the handler for the request's method (405 for the others)."""
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    allow = ", ".join(sorted(m for m in handlers if m != "HEAD"))

    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is None:
            return method_not_allowed(request, allow)
        return await handler(request)

    return dispatch


def parse_int(request: Request, name: str, default: int, *, minimum: int = 0) -> int:
    """An integer query parameter (BadRequestData if malformed or too small)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise BadRequestData(f"{name} must be an integer, got {raw!r}") from err
    if value < minimum:
        raise BadRequestData(f"{name} must be at least {minimum}")
    if value > _MAX_INT:
        raise BadRequestData(f"{name} must be at most {_MAX_INT}")
    return value


def options(request: Request) -> set[str]:
    """The comma-separated ``options`` parameter."""
    raw = ",".join(request.query_params.getlist("options"))
    return {o.strip() for o in raw.split(",") if o.strip()}


def split_list(raw: str | None) -> list[str] | None:
    """A comma-separated parameter as a list (None if absent)."""
    if raw is None:
        return None
    items = [x.strip() for x in raw.split(",") if x.strip()]
    if not items:
        raise BadRequestData("empty list parameter")
    return items
