"""One data model: a JSON Schema of an entity type, compiled, and the check of an entity write.

A model's ``schema`` is a JSON Schema (draft 2020-12) of the entity in NGSI-LD keyValues form,
like the FIWARE Smart Data Models' ``schema.json``: keys are short attribute names, values are
what an attribute holds (a Property's value, a Relationship's object, a GeoProperty's GeoJSON).
Each attribute's ``x-ngsi`` member may say which NGSI-LD attribute type it must be and which
``unitCode`` its values are in.

Entities are stored expanded (full IRIs); a model matches types and attributes by their short
name, the IRI's last segment, so the same model holds whichever @context a client used.

What a write must satisfy:
- the attributes it adds or changes: their values (types, ranges, enums, formats), their
  NGSI-LD attribute type and ``unitCode``;
- a new entity (and an attribute removal): the ``required`` attributes too. Partial updates,
  which is what devices send, are not held to ``required``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from cityhub.errors import BadRequestData
from cityhub.ngsild.entity import VALUE_MEMBER, Entity, Instance

#: top-level keywords that demand attributes be present: dropped for partial updates
_PRESENCE = ("required", "dependentRequired", "anyOf", "oneOf", "minProperties")
_MAX_REPORTED = 5


@functools.lru_cache(maxsize=8192)
def short_name(iri: str) -> str:
    """The last segment of an expanded IRI (the name a data model uses)."""
    return iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


@dataclass(frozen=True, slots=True)
class DataModel:
    """A model as an operator sees it: the built-in one, one of their own, or an extension."""

    type: str
    schema: dict[str, Any]
    title: str = ""
    description: str = ""
    source: str = ""
    origin: str = "builtin"  # builtin | custom | extended (the built-in one plus `extension`)
    extension: dict[str, Any] | None = None
    enforce: bool = False  # the NGSI-LD API validates this type too (ingest always does)
    updated_at: str | None = None

    def json(self, *, schema: bool = True) -> dict[str, Any]:
        """The model as the admin API shows it."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "source": self.source,
            "origin": self.origin,
            "enforce": self.enforce,
        }
        if self.updated_at is not None:
            body["updatedAt"] = self.updated_at
        if schema:
            body["schema"] = self.schema
            if self.extension is not None:
                body["extension"] = self.extension
        return body

    def schemas(self) -> list[dict[str, Any]]:
        """Every schema an entity must satisfy."""
        return [self.schema] if self.extension is None else [self.schema, self.extension]


def compile_schema(schema: Any) -> Any:
    """A validator for ``schema`` (BadRequestData saying what is wrong with it)."""
    if not isinstance(schema, dict):
        raise BadRequestData("a data model's schema must be a JSON object (a JSON Schema)")
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise BadRequestData("the schema's properties must be an object")
    for name, prop in props.items():
        if not isinstance(prop, dict | bool):
            raise BadRequestData(f"the schema of attribute {name} must be an object")
        ngsi = prop.get("x-ngsi", {}) if isinstance(prop, dict) else {}
        if not isinstance(ngsi, dict):
            raise BadRequestData(f"x-ngsi of attribute {name} must be an object")
        kind = ngsi.get("type")
        if kind is not None and kind not in VALUE_MEMBER:
            raise BadRequestData(
                f"x-ngsi.type of attribute {name} must be an NGSI-LD attribute type "
                f"({', '.join(sorted(VALUE_MEMBER))}), not {kind!r}"
            )
        if not isinstance(ngsi.get("unitCode", ""), str):
            raise BadRequestData(f"x-ngsi.unitCode of attribute {name} must be a string")
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True, offline=True)
    except (jsonschema_rs.ReferencingError, ValueError) as err:  # ValidationError is one
        first = str(err).split("\n", 1)[0]
        raise BadRequestData(f"the schema is not a usable JSON Schema: {first}") from err


def _partial(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in _PRESENCE}


@dataclass(slots=True)
class _Part:
    full: Any
    partial: Any
    required: frozenset[str]
    ngsi: dict[str, tuple[str | None, str | None]]  # attribute -> (NGSI-LD type, unitCode)


@dataclass(slots=True)
class Checker:
    """A model compiled for checking writes."""

    model: DataModel
    parts: list[_Part] = field(default_factory=list)

    @classmethod
    def of(cls, model: DataModel) -> Checker:
        """Compile every schema of ``model`` (BadRequestData if one is unusable)."""
        checker = cls(model)
        for schema in model.schemas():
            full = compile_schema(schema)
            ngsi: dict[str, tuple[str | None, str | None]] = {}
            for name, prop in schema.get("properties", {}).items():
                spec = prop.get("x-ngsi") if isinstance(prop, dict) else None
                if isinstance(spec, dict):
                    ngsi[name] = (spec.get("type"), spec.get("unitCode"))
            required = frozenset(schema.get("required", ())) - {"id", "type"}
            partial = compile_schema(_partial(schema))
            checker.parts.append(_Part(full, partial, required, ngsi))
        return checker

    def errors(self, before: Entity | None, after: Entity) -> list[str]:
        """What in the write ``before`` → ``after`` breaks the model (empty: it fits)."""
        old: dict[str, Any] = before["attrs"] if before is not None else {}
        changed = [
            (short_name(iri), insts)
            for iri, insts in after["attrs"].items()
            if before is None or (old.get(iri) is not insts and old.get(iri) != insts)
        ]
        problems: list[str] = []
        gone = {short_name(iri) for iri in old if iri not in after["attrs"]}
        for part in self.parts:
            problems += _kinds(part, changed)
            problems += [f"{name}: required by the data model" for name in part.required & gone]
            width = max((len(insts) for _, insts in changed), default=0)
            for i in range(max(width, 1 if before is None else 0)):
                doc = {name: _plain(insts[i]) for name, insts in changed if i < len(insts)}
                if before is None and i == 0:
                    doc["id"], doc["type"] = after["id"], self.model.type
                    problems += _schema_errors(part.full, doc)
                else:
                    problems += _schema_errors(part.partial, doc)
        return problems

    def check(self, before: Entity | None, after: Entity) -> None:
        """Raise BadRequestData naming every rule the write breaks (up to a few)."""
        problems = self.errors(before, after)
        if problems:
            more = len(problems) - _MAX_REPORTED
            listed = "; ".join(problems[:_MAX_REPORTED])
            if more > 0:
                listed += f"; and {more} more"
            raise BadRequestData(
                f"entity {after['id']} does not fit the {self.model.type} data model: {listed}"
            )


def _kinds(part: _Part, changed: list[tuple[str, list[Instance]]]) -> list[str]:
    problems = []
    for name, insts in changed:
        kind, unit = part.ngsi.get(name, (None, None))
        for inst in insts:
            if kind is not None and inst.get("type") != kind:
                problems.append(f"{name}: must be a {kind}, not a {inst.get('type')}")
            got = inst.get("unitCode")
            if unit is not None and got is not None and got != unit:
                problems.append(f"{name}: unitCode must be {unit}, not {got}")
    return problems


def _plain(inst: Instance) -> Any:
    """An instance's value as keyValues shows it."""
    value = inst.get(VALUE_MEMBER.get(inst.get("type", ""), "value"))
    if isinstance(value, dict) and "@value" in value:  # typed literal, e.g. a DateTime
        return value["@value"]
    return value


def _schema_errors(validator: Any, doc: dict[str, Any]) -> list[str]:
    problems = []
    for err in validator.iter_errors(doc):
        path = "/".join(str(p) for p in err.instance_path) or "entity"
        problems.append(f"{path}: {err.message}")
    return problems
