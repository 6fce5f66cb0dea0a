"""The dashboard's routes.

- ``GET /``: the dashboard page (public: it holds no data; every data call it makes needs a
  login), with the page's own Content-Security-Policy;
- ``GET /static/{path}``: its scripts, styles and base map (public), cached by content hash;
- ``GET /cityhub/v1/changes/stream?type=A,B&attrs=x,y``: live entity changes as server-sent
  events (``entities:read``; a principal limited to some types sees only those).

``page_routes`` must come last in the app: ``/`` and ``/static/`` shadow nothing else then.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cityhub.auth import limits
from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.http import method_route, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.web.changes import ChangeFilter, ChangeStreams
from cityhub.web.site import Asset, Site

_MAX_NAMES = 100


def _site(request: Request) -> Site:
    found: Site = hub_of(request).extras["web_site"]
    return found


def _send(request: Request, asset: Asset, headers: dict[str, str] | None = None) -> Response:
    common = {"ETag": asset.etag, "Cache-Control": asset.cache_control, **(headers or {})}
    if asset.gzipped is not None:
        common["Vary"] = "Accept-Encoding"
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=common)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body, common["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type=asset.media_type, headers=common)


async def page(request: Request) -> Response:
    """GET /: the dashboard."""
    site = _site(request)
    asset = site.page()
    if asset is None:
        raise ResourceNotFound("the dashboard is not built: run `make web`")
    return _send(request, asset, {"Content-Security-Policy": site.csp})


async def static(request: Request) -> Response:
    """GET /static/{path}: a file of the dashboard's build."""
    asset = _site(request).file(request.path_params["path"])
    if asset is None:
        raise ResourceNotFound(f"no such file: {request.url.path}")
    return _send(request, asset)


def _names(request: Request, param: str) -> frozenset[str] | None:
    raw = request.query_params.get(param)
    if raw is None or not raw.strip():
        return None
    names = [short_name(n.strip()) for n in raw.split(",") if n.strip()]
    if len(names) > _MAX_NAMES or any(len(n) > 256 for n in names):
        raise BadRequestData(f"{param}: at most {_MAX_NAMES} names of up to 256 characters")
    return frozenset(names)


async def changes_stream(request: Request) -> Response:
    """GET /cityhub/v1/changes/stream: server-sent events of entity changes."""
    wanted = ChangeFilter(
        tenant_of(request),
        _names(request, "type"),
        limits.current(),
        _names(request, "attrs"),
    )
    streams: ChangeStreams = hub_of(request).extras["web_changes"]
    return StreamingResponse(
        streams.stream(wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


#: the API routes (anywhere in the app's list)
routes = [method_route("/cityhub/v1/changes/stream", GET=changes_stream)]
#: the page and its files: last in the app's list
page_routes = [
    method_route("/", GET=page),
    method_route("/static/{path:path}", GET=static),
]
