"""``GET /cityhub/v1/openapi.json``: the OpenAPI 3.1 description of the whole HTTP API.

The description is ``cityhub/openapi/openapi.json``, read once; each answer names the hub's
own base URL as the server (and the running version), so tools pointed at the URL (Swagger UI,
schemathesis, client generators) call this hub. It is public, like ``/version``:
``tests/test_openapi.py`` keeps it in step with the routes the app serves.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityhub import __version__
from cityhub.ngsild.http import method_route

PATH = "/cityhub/v1/openapi.json"


@functools.cache
def spec() -> dict[str, Any]:
    """The description as shipped (do not change it: it is shared)."""
    doc: dict[str, Any] = orjson.loads(
        resources.files(__package__ or "cityhub.openapi").joinpath("openapi.json").read_bytes()
    )
    return doc


async def openapi(request: Request) -> Response:
    """GET /cityhub/v1/openapi.json: the description, with this hub as its server."""
    doc = spec()
    body = {
        **doc,
        "info": {**doc["info"], "version": __version__},
        "servers": [{"url": str(request.base_url).rstrip("/") or "/"}],
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [method_route(PATH, GET=openapi)]
