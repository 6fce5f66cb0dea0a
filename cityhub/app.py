"""create_app(settings): wires storage, change stream, @context loader, services and routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from cityhub import __version__
from cityhub.audit import install as install_audit
from cityhub.audit import routes as audit_routes
from cityhub.auth import routes as auth_routes
from cityhub.auth import sso
from cityhub.auth.middleware import AuthGate
from cityhub.auth.model import ALL_TENANTS, Grant
from cityhub.auth.oidc import OidcVerifier
from cityhub.auth.store import AuthStore, new_password
from cityhub.bus import ChangeBus
from cityhub.bus.feed import prune_loop
from cityhub.datamodels import routes as datamodel_routes
from cityhub.datamodels.registry import ModelRegistry
from cityhub.errors import (
    AlreadyExists,
    InternalError,
    InvalidRequest,
    LdContextNotAvailable,
    NgsiError,
    ResourceNotFound,
)
from cityhub.guard import middleware as guard_middleware
from cityhub.guard.outbound import context_request_hook, guarded_fetcher
from cityhub.iot import routes as iot_routes
from cityhub.iot.ingest import Ingest
from cityhub.iot.mqtt_ingest import MqttIngest
from cityhub.iot.store import IotStore, RejectedStore
from cityhub.ngsild import batch, discovery, routes
from cityhub.ngsild.context import ContextLoader
from cityhub.ngsild.http import problem_response
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.service import EntityService
from cityhub.openapi import routes as openapi_routes
from cityhub.ops import cctv_routes, interwork, kpi_routes, linked_routes, sop_routes
from cityhub.ops import install as install_ops
from cityhub.ops import routes as ops_routes
from cityhub.ops.rules import install as install_rules
from cityhub.ops.rules import routes as rule_routes
from cityhub.ops.sop import install_sops
from cityhub.services import catalog as service_catalog
from cityhub.services import crosswalk as crosswalk_service
from cityhub.services import electrical as electrical_service
from cityhub.services import facility as facility_service
from cityhub.services.air import install as install_air
from cityhub.services.air import routes as air_routes
from cityhub.services.care import install as install_care
from cityhub.services.care import routes as care_routes
from cityhub.services.parking import enforcement_routes
from cityhub.services.parking import routes as parking_routes
from cityhub.services.parking.enforcement import install_enforcement
from cityhub.services.parking.service import install_parking
from cityhub.settings import Settings, check_settings
from cityhub.sim.demo import install as install_demo
from cityhub.storage import storage_for
from cityhub.storage.base import Storage
from cityhub.subscriptions import deadletters
from cityhub.subscriptions import routes as subscription_routes
from cityhub.subscriptions import service as subscriptions
from cityhub.temporal import install as install_temporal
from cityhub.temporal import routes as temporal_routes
from cityhub.web import install as install_web
from cityhub.web import routes as web_routes

log = logging.getLogger("cityhub")


def remote_fetcher(settings: Settings) -> Any:
    """Fetches remote @contexts over HTTP(S), within the size and time limits of ``settings``."""

    hook = context_request_hook(settings)  # every hop, redirects too: no internal address

    async def fetch(url: str) -> Any:
        if not url.startswith(("http://", "https://")):
            raise LdContextNotAvailable(f"cannot fetch @context {url}: only http(s) URLs")
        try:
            async with (
                httpx.AsyncClient(
                    timeout=settings.context_timeout,
                    follow_redirects=True,
                    event_hooks={"request": [hook]},
                ) as client,
                client.stream(
                    "GET", url, headers={"Accept": "application/ld+json, application/json"}
                ) as resp,
            ):
                if resp.status_code != 200:
                    raise LdContextNotAvailable(f"@context {url} answered HTTP {resp.status_code}")
                data = bytearray()
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > settings.context_max_bytes:
                        raise LdContextNotAvailable(
                            f"@context {url} is larger than {settings.context_max_bytes} bytes"
                        )
        except httpx.HTTPError as err:
            raise LdContextNotAvailable(f"cannot fetch @context {url}: {err}") from err
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise LdContextNotAvailable(f"@context {url} is not JSON") from err

    return fetch


async def _on_ngsi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NgsiError)
    return problem_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem_response(ResourceNotFound(f"no such resource: {request.url.path}"))
    if exc.status_code == 405:
        err = InvalidRequest(f"method {request.method} not allowed on {request.url.path}")
        # Starlette names only the methods of the first route matching the path; one path has
        # a route per method here, so gather them all
        allow = ", ".join(sorted(_allowed_methods(request)))
        return _problem_with_status(err, 405, {"Allow": allow})
    return _problem_with_status(InvalidRequest(str(exc.detail)), exc.status_code)


def _problem_with_status(
    err: NgsiError, status: int, headers: dict[str, str] | None = None
) -> Response:
    """ProblemDetails for an HTTP status no NgsiError class has (its status member agrees)."""
    body = {**err.to_problem(), "status": status}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _allowed_methods(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return methods


async def _on_crash(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("internal error; it has been logged"))


async def version(request: Request) -> Response:
    """GET /version: product and version."""
    return Response(
        orjson.dumps({"name": "cityhub", "version": __version__}), media_type="application/json"
    )


async def status(request: Request) -> Response:
    """GET /cityhub/v1/status: version, the change log's end and how far behind each consumer
    (subscriptions, history) is, in changes: a growing ``behind`` is a backlog."""
    hub = request.app.state.hub
    end = await hub.storage.log_end()
    cursors = await hub.storage.cursors()
    consumers = {
        name: {"cursor": cursors.get(name, end), "behind": max(0, end - cursors.get(name, end))}
        for name in hub.feeds
    }
    body: dict[str, object] = {
        "name": "cityhub",
        "version": __version__,
        "changeLog": {"end": end},
        "consumers": consumers,
    }
    mqtt = hub.extras.get("mqtt_ingest")
    if mqtt is not None:
        body["mqttIngest"] = {"subscribed": mqtt.subscribed.is_set(), "taken": mqtt.taken}
    return Response(orjson.dumps(body), media_type="application/json")


_STOP_S = 10.0  # how long shutdown waits for background tasks


async def first_admin(auth: AuthStore) -> None:
    """On the first start with auth on, create the administrator and show its password once
    (on the console, never in a log)."""
    if await auth.user_count():
        return
    password = new_password()
    try:
        await auth.create_user("admin", password, [Grant("admin", ALL_TENANTS)])
    except AlreadyExists:
        return  # another worker made it
    sys.stderr.write(
        "\ncityhub: first start: created the administrator\n"
        f"    user: admin\n    password: {password}\n"
        "  It is shown only now. Log in at POST /cityhub/v1/auth/login, and change it with\n"
        "  `cityhub user passwd admin`.\n\n"
    )
    sys.stderr.flush()


def _pruner(storage: Storage) -> Callable[[], Coroutine[Any, Any, None]]:
    return lambda: prune_loop(storage)


def tune_gc(threshold: int) -> None:
    """Collect garbage less often in a server or import process (``gc_threshold``): a batch
    of writes allocates hundreds of thousands of short-lived objects (parsed JSON, freed by
    reference counting), and Python's default of a collection every 700 of them spent about
    a third of a bulk load in the collector, most of it walking long-lived objects. Those
    made at start-up (modules, the app) are frozen out of collections. 0: Python's defaults.
    """
    if threshold > 0:
        gc.freeze()
        gc.set_threshold(threshold, *gc.get_threshold()[1:])


def create_app(settings: Settings) -> Starlette:
    """The cityhub ASGI application for ``settings``."""
    check_settings(settings)
    storage = storage_for(settings.database_url, settings)
    bus = ChangeBus()

    async def local_context(url: str) -> Any:
        marker = "/ngsi-ld/v1/jsonldContexts/"
        if marker not in url:
            return None
        row = await storage.context_get(url.rsplit("/", 1)[-1])
        return row["body"] if row else None

    contexts = ContextLoader(
        guarded_fetcher(remote_fetcher(settings), settings), local=local_context
    )
    hub = Hub(settings, storage, bus, contexts, EntityService(storage, bus))
    hub.extras["datamodels"] = hub.entities.validator = ModelRegistry(storage)
    hub.extras["auth"] = auth = AuthStore(storage)
    public_types = settings.public_types.split(",")
    if settings.oidc_issuer:
        hub.extras["oidc"] = OidcVerifier(
            settings.oidc_issuer, settings.oidc_audience, settings.oidc_roles_claim
        )
    if settings.auth == "on":
        hub.starters.append(lambda: first_admin(auth))
    temporal = install_temporal(hub)
    subscriptions.install(hub)
    install_audit(hub)
    install_ops(hub)
    install_rules(hub)  # after install_ops: rules raise events through it
    install_sops(hub)  # after install_ops: SOPs use its events and cameras
    install_care(hub)  # after install_sops: its events start the 119 and vulnerable SOPs
    facility_service.install(hub, temporal)  # after install_sops: grade drops are events
    electrical_service.install(hub)  # after install_sops: it looks up SOP templates
    install_enforcement(hub)  # after install_sops: its SMS gateway and events
    install_air(hub, temporal)  # after install_ops: alerts are its events
    install_parking(hub)
    install_web(hub)
    install_demo(hub)  # after the services: it sets them up in the demo city
    hub.extras["iot"] = registry = IotStore(storage)
    hub.extras["ingest"] = ingest = Ingest(hub, registry, RejectedStore(storage))
    if settings.mqtt_url:
        mqtt = MqttIngest(ingest, settings.mqtt_url, settings.mqtt_client_id)
        hub.extras["mqtt_ingest"] = mqtt
        hub.tasks.append(mqtt.run)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await storage.open()
        tasks: list[asyncio.Task[None]] = []
        try:
            for start in hub.starters:
                await start()
            for feed in hub.feeds.values():
                await feed.start()
            tasks = [asyncio.create_task(run()) for run in (*hub.tasks, _pruner(storage))]
            yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:  # a task that does not end when cancelled must not hold the shutdown
                _, stuck = await asyncio.wait(tasks, timeout=_STOP_S)
                for task in stuck:
                    log.warning("background task %s did not stop in time", task.get_name())
            steps = [(f"feed {name}", feed.stop) for name, feed in hub.feeds.items()]
            steps += [(getattr(close, "__qualname__", "closer"), close) for close in hub.closers]
            for what, step in (*steps, ("storage", storage.close)):
                try:  # whatever one step does, the others still run and shutdown ends
                    await asyncio.wait_for(step(), _STOP_S)
                except TimeoutError:
                    log.warning("shutdown: %s did not finish within %.0f s", what, _STOP_S)
                except Exception:
                    log.exception("shutdown: %s failed", what)

    app = Starlette(
        routes=[
            *routes.routes,
            *batch.routes,
            *discovery.routes,
            *subscription_routes.routes,
            *deadletters.routes,
            *temporal_routes.routes,
            *iot_routes.routes,
            *datamodel_routes.routes,
            *auth_routes.routes,
            *sso.routes,
            *audit_routes.routes,
            *ops_routes.routes,
            *cctv_routes.routes,
            *sop_routes.routes,
            *interwork.routes,
            *linked_routes.routes,
            *kpi_routes.routes,
            *service_catalog.routes,
            *care_routes.routes,
            *facility_service.routes,
            *electrical_service.routes,
            *crosswalk_service.routes,
            *enforcement_routes.routes,
            *air_routes.routes,
            *parking_routes.routes,
            *rule_routes.routes,
            Route("/version", version, methods=["GET"]),
            Route("/cityhub/v1/status", status, methods=["GET"]),
            *openapi_routes.routes,
            *web_routes.routes,
            *web_routes.page_routes,  # last: the dashboard at / shadows nothing
        ],
        exception_handlers={
            NgsiError: _on_ngsi_error,
            HTTPException: _on_http_error,
            Exception: _on_crash,
        },
        lifespan=lifespan,
        middleware=[
            *guard_middleware(settings),  # outermost: headers on every answer, limits first
            Middleware(
                AuthGate,
                store=auth,
                enabled=settings.auth == "on",
                public_types=frozenset(filter(None, map(str.strip, public_types))),
                oidc=hub.extras.get("oidc"),
                audit=hub.extras.get("audit"),
            ),
        ],
    )
    app.state.hub = hub
    app.state.temporal = temporal
    return app
