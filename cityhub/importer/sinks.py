"""Where imported entities go, behind one small interface (:class:`Sink`).

* :class:`HttpSink` — a running hub (or any NGSI-LD broker), through the standard batch upsert
  ``POST /ngsi-ld/v1/entityOperations/upsert?options=update``; per-entity failures come back
  in the 207 report.
* :class:`DirectSink` — a hub's database, written in-process through the entity service (the
  same path as the API's batch upsert, without HTTP): the fast path for initial loads.
* :class:`NullSink` — nowhere (``--dry-run``: read and convert only).

Entities are written with upsert in update mode: a new entity is created, an existing one gets
the imported attributes added or replaced and keeps its others, so importing a file twice
leaves one entity per id.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, Protocol

import orjson

from cityhub.errors import CityhubError, ConfigError, NgsiError
from cityhub.importer.errors import ImportFailed
from cityhub.settings import Settings

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
UPSERT_PATH = "/ngsi-ld/v1/entityOperations/upsert"
Failures = list[tuple[str, str]]
"""(entity id, reason) for every entity the sink did not take; the reason starts with the
NGSI-LD problem type when there is one: ``"BadRequestData: attribute 'x' ..."``."""


class Sink(Protocol):
    """A destination for entities."""

    target: str  # shown to the user; with the tenant, the key of the resume state

    async def open(self) -> None:
        """Connect (ImportFailed with one line if the destination cannot be used)."""

    async def write(self, tenant: str, entities: list[dict[str, Any]]) -> Failures:
        """Upsert normalized NGSI-LD entities; returns the ones not taken and why. Raises
        ImportFailed when the destination fails as a whole (nothing can be said per entity)."""

    async def close(self) -> None:
        """Release connections."""


def problem_reason(problem: dict[str, Any] | Any) -> str:
    """``"Type: detail"`` of an NGSI-LD ProblemDetails body."""
    if not isinstance(problem, dict):
        return str(problem)
    kind = str(problem.get("type", "")).rsplit("/", 1)[-1]
    detail = problem.get("detail") or problem.get("title") or "refused"
    return f"{kind}: {detail}" if kind else str(detail)


def redact(url: str) -> str:
    """A URL without its password."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


class NullSink:
    """Takes everything and writes nothing (--dry-run)."""

    target = "nowhere (dry run)"

    async def open(self) -> None:
        return None

    async def write(self, tenant: str, entities: list[dict[str, Any]]) -> Failures:
        return []

    async def close(self) -> None:
        return None


class HttpSink:
    """A running hub, through the NGSI-LD batch upsert."""

    def __init__(
        self,
        url: str,
        *,
        concurrency: int = 4,
        context: str | None = None,
        timeout: float = 120.0,
        max_body: int = 4 * 1024 * 1024,
        attempts: int = 4,
    ) -> None:
        self.url = url.rstrip("/")
        self.target = redact(self.url)
        self._concurrency = concurrency
        context_url = context or CORE_CONTEXT_URL
        self._link = (
            f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"'
        )
        self._timeout = timeout
        self._max_body = max_body - 64 * 1024  # room for the hub's own limit check
        self._attempts = attempts
        self._client: Any = None
        self.requests = 0

    async def open(self) -> None:
        import httpx

        if not self.url.startswith(("http://", "https://")):
            raise ImportFailed(f"bad hub URL {self.url!r}: use http://host:port")
        token = os.environ.get("CITYHUB_TOKEN")  # a login token or API key, auth being on
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=self._concurrency + 1),
            trust_env=False,
        )
        try:
            await self._client.get("/version", timeout=10.0)
        except httpx.HTTPError as err:
            await self.close()
            raise ImportFailed(f"cannot reach the hub at {self.target}: {_why(err)}") from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def write(self, tenant: str, entities: list[dict[str, Any]]) -> Failures:
        # application/json with the context in a Link header; entities that carry their own
        # @context go as application/ld+json (the hub refuses a mix in one request)
        plain = [e for e in entities if "@context" not in e]
        ld = [e for e in entities if "@context" in e]
        failures: Failures = []
        if plain:
            failures += await self._post(tenant, plain, ld=False)
        if ld:
            failures += await self._post(tenant, ld, ld=True)
        return failures

    async def _post(self, tenant: str, entities: list[dict[str, Any]], *, ld: bool) -> Failures:
        import httpx

        body = orjson.dumps(entities)
        if len(body) > self._max_body and len(entities) > 1:
            return await self._halves(tenant, entities, ld=ld)
        headers = {"Content-Type": "application/ld+json" if ld else "application/json"}
        if not ld:
            headers["Link"] = self._link
        if tenant:
            headers["NGSILD-Tenant"] = tenant
        problem = ""
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
            try:
                self.requests += 1
                resp = await self._client.post(
                    UPSERT_PATH, content=body, headers=headers, params={"options": "update"}
                )
            except httpx.HTTPError as err:
                problem = _why(err)
                continue
            status = resp.status_code
            if status in (200, 201, 204):
                return []
            if status == 207:
                return self._report(resp, entities)
            if status == 413 and len(entities) > 1:
                return await self._halves(tenant, entities, ld=ld)
            if status == 413:
                return [(_id(entities[0]), "PayloadTooLarge: the entity alone is too large")]
            problem = f"HTTP {status}" + _detail(resp)
            if status in (429, 500, 502, 503, 504):
                continue
            raise ImportFailed(f"the hub at {self.target} refused a batch: {problem}")
        raise ImportFailed(
            f"the hub at {self.target} did not take a batch after {self._attempts} attempts: "
            f"{problem}"
        )

    async def _halves(self, tenant: str, entities: list[dict[str, Any]], *, ld: bool) -> Failures:
        mid = len(entities) // 2
        return await self._post(tenant, entities[:mid], ld=ld) + await self._post(
            tenant, entities[mid:], ld=ld
        )

    @staticmethod
    def _report(resp: Any, entities: list[dict[str, Any]]) -> Failures:
        try:
            body = resp.json()
            errors = body.get("errors", []) if isinstance(body, dict) else []
        except ValueError:
            errors = []
        failures = [
            (str(e.get("entityId", "")), problem_reason(e.get("error")))
            for e in errors
            if isinstance(e, dict)
        ]
        if not failures:  # a 207 naming nothing: count the whole batch as refused
            return [(_id(e), "the hub answered 207 without errors") for e in entities]
        return failures


def _id(entity: Any) -> str:
    return str(entity.get("id", "")) if isinstance(entity, dict) else ""


def _why(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0]


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return f" ({problem_reason(body)})" if isinstance(body, dict) else ""


class DirectSink:
    """A hub's database, written in-process through :class:`EntityService` (no HTTP)."""

    def __init__(self, settings: Settings, *, context: str | None = None) -> None:
        self.settings = settings
        self.target = redact(settings.database_url)
        self._context_url = context
        self._storage: Any = None
        self._service: Any = None
        self._contexts: Any = None
        self._ctx: Any = None

    async def open(self) -> None:
        from cityhub.app import remote_fetcher
        from cityhub.bus import ChangeBus
        from cityhub.ngsild.context import ContextLoader
        from cityhub.ngsild.service import EntityService
        from cityhub.storage import storage_for

        try:
            storage = storage_for(self.settings.database_url, self.settings)
            await storage.open()
        except ConfigError as err:
            raise ImportFailed(str(err)) from None
        self._storage = storage

        async def local_context(url: str) -> Any:  # contexts hosted by the hub itself
            marker = "/ngsi-ld/v1/jsonldContexts/"
            if marker not in url:
                return None
            row = await storage.context_get(url.rsplit("/", 1)[-1])
            return row["body"] if row else None

        self._contexts = ContextLoader(remote_fetcher(self.settings), local=local_context)
        self._service = EntityService(storage, ChangeBus())
        try:
            self._ctx = await self._contexts.resolve(self._context_url)
        except NgsiError as err:
            await self.close()
            raise ImportFailed(f"cannot load @context {self._context_url}: {err.detail}") from None

    async def close(self) -> None:
        if self._storage is not None:
            await self._storage.close()
            self._storage = None

    async def write(self, tenant: str, entities: list[dict[str, Any]]) -> Failures:
        from cityhub.ngsild import models

        failures: Failures = []
        parsed: list[dict[str, Any]] = []
        for entity in entities:
            try:
                ctx = self._ctx
                if "@context" in entity:
                    ctx = await self._contexts.resolve(entity["@context"])
                parsed.append(models.parse_entity(entity, ctx))
            except NgsiError as err:
                failures.append((_id(entity), f"{err.problem}: {err.detail}"))
        if parsed:
            failures += await self.store(tenant, parsed)
        return failures

    async def store(self, tenant: str, parsed: list[dict[str, Any]]) -> Failures:
        """The one storage call: upsert parsed entities (stored form, as
        ``models.parse_entity`` gives them) in one batch. A bulk storage path can replace it."""
        from cityhub.ngsild.batch import upsert_mutation

        try:
            result = await self._service.batch(
                tenant, [upsert_mutation(p, update=True) for p in parsed]
            )
        except CityhubError as err:
            raise ImportFailed(f"writing to {self.target} failed: {err}") from None
        return [(eid, f"{err.problem}: {err.detail}") for eid, err in result.errors]
