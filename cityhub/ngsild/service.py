"""The NGSI-LD entity service: the hub's interface for the API and every other feature.

Features call this (never storage directly) so each write is validated, stored atomically and
published on the change stream in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cityhub.auth import limits
from cityhub.bus import ChangeBus
from cityhub.datamodels.model import short_name
from cityhub.errors import NgsiError, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import merge
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import Entity, Instance
from cityhub.ngsild.filters import EntityQuery, TypeExpr
from cityhub.ngsild.merge import AttrReport
from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Mutation, Mutator, Outcome, QueryResult, Storage, TypeInfo


@dataclass(slots=True)
class BatchResult:
    """Per-entity outcome of a batch operation."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[tuple[str, NgsiError]] = field(default_factory=list)


class Validator(Protocol):
    """Checks each write against the city's data models (cityhub.datamodels)."""

    async def ready(self) -> None:
        """Be up to date before a batch of checks (which run inside a transaction)."""

    def check(self, before: Entity | None, after: Entity, *, strict: bool) -> None:
        """Raise NgsiError when ``after`` must not be written."""


class EntityService:
    """Validated, atomic, published entity operations for one hub."""

    def __init__(self, storage: Storage, bus: ChangeBus) -> None:
        self.storage = storage
        self.bus = bus
        self.validator: Validator | None = None

    # --- reads --------------------------------------------------------------------------

    async def check_tenant(self, tenant: str) -> None:
        """Raise NonexistentTenant for a tenant that never received a write."""
        if tenant and not await self.storage.tenant_exists(tenant):
            raise NonexistentTenant(f"tenant {tenant!r} does not exist")

    async def get(self, tenant: str, entity_id: str) -> Entity:
        """One entity, or ResourceNotFound (also when the caller may not see its type)."""
        await self.check_tenant(tenant)
        entity = await self.storage.get(tenant, entity_id)
        if entity is None or not limits.visible(entity["type"], limits.current()):
            raise ResourceNotFound(f"entity {entity_id} not found")
        return entity

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """Entities matching a query (of the types the caller may see)."""
        await self.check_tenant(tenant)
        limit = limits.current()
        if limit is not None:
            query.types = await self._within(tenant, query.types, limit)
            if not query.types:
                return QueryResult([], 0 if query.count else None)
        return await self.storage.query(tenant, query)

    async def _within(self, tenant: str, types: TypeExpr | None, limit: frozenset[str]) -> TypeExpr:
        """A type selection narrowed to the types a limit allows (by short name, whatever
        the @context: every stored type IRI of an allowed name)."""
        allowed = [t.type for t in await self.storage.types(tenant) if short_name(t.type) in limit]
        terms = types if types is not None else (frozenset(),)
        return tuple(term | {iri} for term in terms for iri in allowed)

    async def types(self, tenant: str) -> list[TypeInfo]:
        """Entity types present in a tenant."""
        await self.check_tenant(tenant)
        return await self.storage.types(tenant)

    # --- writes -------------------------------------------------------------------------

    async def _apply(
        self, tenant: str, mutations: Sequence[Mutation], *, strict: bool = False
    ) -> list[Outcome]:
        limit = limits.current()  # read here: the mutators run in the storage's writer
        if self.validator is not None or limit is not None:
            check = _no_check
            if self.validator is not None:
                await self.validator.ready()
                check = self.validator.check
            mutations = [
                Mutation(m.entity_id, _checked(m.fn, check, strict, limit), m.create_only)
                for m in mutations
            ]
        outcomes = await self.storage.apply(tenant, mutations)
        self.bus.publish([o.change for o in outcomes if o.change is not None])
        return outcomes

    async def _one(
        self, tenant: str, entity_id: str, fn: Mutator, *, create_only: bool = False
    ) -> Outcome:
        (outcome,) = await self._apply(tenant, [Mutation(entity_id, fn, create_only)])
        if outcome.error is not None:
            raise outcome.error
        return outcome

    async def _change_existing(
        self, tenant: str, entity_id: str, fn: Callable[[Entity], Entity | None]
    ) -> None:
        """Apply ``fn`` to an entity that must exist (ResourceNotFound otherwise)."""
        await self.check_tenant(tenant)
        await self._one(tenant, entity_id, existing(entity_id, fn))

    async def create(self, tenant: str, parsed: Entity) -> None:
        """Create an entity (AlreadyExists if its id is taken)."""
        await self._one(
            tenant, parsed["id"], lambda _cur: merge.new_entity(parsed, now_iso()), create_only=True
        )

    async def replace(self, tenant: str, entity_id: str, parsed: Entity) -> None:
        """Replace all attributes of an existing entity."""
        await self._change_existing(
            tenant, entity_id, lambda c: merge.replace_entity(c, parsed, now_iso())
        )

    async def merge(
        self,
        tenant: str,
        entity_id: str,
        body: dict[str, Any],
        attrs: dict[str, list[Instance]],
        names: dict[str, str],
        ctx: ActiveContext,
    ) -> None:
        """Merge-patch an entity."""
        await self._change_existing(
            tenant,
            entity_id,
            lambda c: merge.merge_entity(c, body, attrs, names, ctx, now_iso()),
        )

    async def upsert_attrs(
        self,
        tenant: str,
        entity_id: str,
        attrs: dict[str, list[Instance]],
        *,
        overwrite: bool = True,
        update: bool = False,
        types: list[str] | None = None,
        scope: list[str] | None = None,
    ) -> AttrReport:
        """Append (POST .../attrs) or update (PATCH .../attrs) attributes, types and scope."""
        await self.check_tenant(tenant)
        report = AttrReport()

        def fn(cur: Entity) -> Entity:
            report.updated.clear()
            report.not_updated.clear()
            return merge.upsert_attrs(
                cur,
                attrs,
                now_iso(),
                overwrite=overwrite,
                update=update,
                report=report,
                types=types,
                scope=scope,
            )

        await self._change_existing(tenant, entity_id, fn)
        return report

    async def partial_update(
        self,
        tenant: str,
        entity_id: str,
        iri: str,
        name: str,
        fragment: dict[str, Any],
        ctx: ActiveContext,
    ) -> None:
        """PATCH one attribute instance."""
        await self._change_existing(
            tenant,
            entity_id,
            lambda c: merge.partial_update(c, iri, name, fragment, ctx, now_iso()),
        )

    async def replace_attr(
        self, tenant: str, entity_id: str, iri: str, name: str, instances: list[Instance]
    ) -> None:
        """PUT one attribute (the instances it names must exist)."""
        await self._change_existing(
            tenant, entity_id, lambda c: merge.replace_attr(c, iri, name, instances, now_iso())
        )

    async def delete_attr(
        self,
        tenant: str,
        entity_id: str,
        iri: str,
        name: str,
        dataset_id: str | None,
        delete_all: bool,
    ) -> None:
        """DELETE one attribute (instance)."""
        await self._change_existing(
            tenant,
            entity_id,
            lambda c: merge.delete_attr(c, iri, name, dataset_id, delete_all, now_iso()),
        )

    async def delete(self, tenant: str, entity_id: str) -> None:
        """Delete an entity."""
        await self._change_existing(tenant, entity_id, lambda _c: None)

    # --- batch --------------------------------------------------------------------------

    async def batch(
        self, tenant: str, mutations: Sequence[Mutation], *, strict: bool = False
    ) -> BatchResult:
        """Run a batch; each entity succeeds or fails alone. ``strict``: every write is held
        to its type's data model, not only the types the API enforces (device ingest)."""
        outcomes = await self._apply(tenant, mutations, strict=strict)
        result = BatchResult()
        for o in outcomes:
            if o.error is not None:
                result.errors.append((o.entity_id, o.error))
            else:
                result.success.append(o.entity_id)
                if o.before is None and o.after is not None:
                    result.created.append(o.entity_id)
        return result

    async def purge(self, tenant: str, query: EntityQuery) -> int:
        """Delete every entity matching ``query``; returns how many."""
        await self.check_tenant(tenant)
        deleted = 0
        query.limit, query.offset, query.count = 1000, 0, False
        while True:
            page = await self.storage.query(tenant, query)
            if not page.entities:
                return deleted
            ids = [e["id"] for e in page.entities]
            result = await self.batch(tenant, [Mutation(i, lambda _c: None) for i in ids])
            deleted += len(result.success)
            if not result.success:
                return deleted


def existing(entity_id: str, fn: Callable[[Entity], Entity | None]) -> Mutator:
    """A mutator that fails with ResourceNotFound when the entity is absent."""

    def run(current: Entity | None) -> Entity | None:
        if current is None:
            raise ResourceNotFound(f"entity {entity_id} not found")
        return fn(current)

    return run


def _checked(
    fn: Mutator, check: Callable[..., None], strict: bool, limit: frozenset[str] | None
) -> Mutator:
    """A mutator whose result is checked before it is written: against the data models,
    and against the entity types the caller may change."""

    def run(current: Entity | None) -> Entity | None:
        if current is not None:
            limits.check_write(current["id"], current["type"], limit)
        after = fn(current)
        if after is not None:
            limits.check_write(after["id"], after["type"], limit)
            check(current, after, strict=strict)
        return after

    return run


def _no_check(before: Entity | None, after: Entity, *, strict: bool) -> None:
    """No data models to check against."""
