"""The data-model registry: built-in models (package files) overlaid by the operator's own.

The operator's models are stored (table ``data_models``, migration 0008) so every worker sees
them; a worker reads them again when its copy is older than ``_FRESH_S`` or when it changed
them itself. Writes are checked synchronously inside the storage transaction (a mutator), so
the registry is made fresh before each write batch (:meth:`ready`), not during it.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from typing import Any

import orjson

from cityhub.datamodels.model import Checker, DataModel, short_name
from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

log = logging.getLogger(__name__)

_FRESH_S = 2.0
_DOC_KEYS = ("title", "description", "source")


def builtin_models() -> dict[str, DataModel]:
    """The models shipped with cityhub, by type name."""
    found: dict[str, DataModel] = {}
    folder = resources.files("cityhub.datamodels").joinpath("builtin")
    items = folder.iterdir() if folder.is_dir() else ()
    for item in sorted(items, key=lambda i: i.name):
        if item.name.endswith(".json"):
            doc = orjson.loads(item.read_bytes())
            found[doc["type"]] = DataModel(
                doc["type"], doc["schema"], **{k: doc.get(k, "") for k in _DOC_KEYS}
            )
    return found


class ModelRegistry:
    """Effective models by type name, compiled; the admin operations on them."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)
        self.builtin = builtin_models()
        self._builtin_checkers = {name: Checker.of(m) for name, m in self.builtin.items()}
        self._checkers: dict[str, Checker] = dict(self._builtin_checkers)
        self._stored: dict[str, tuple[str, Checker]] = {}  # type -> (updated_at, compiled)
        self._read_at = float("-inf")

    # --- checking writes -----------------------------------------------------------------

    async def ready(self) -> None:
        """Read the stored models again if this worker's copy is stale."""
        if time.monotonic() - self._read_at > _FRESH_S:
            await self._reload()

    def check(self, before: Entity | None, after: Entity, *, strict: bool) -> None:
        """Check a write against the model of each of the entity's types: every model when
        ``strict`` (ingest), else only the models the API is told to enforce."""
        for iri in after["type"]:
            checker = self._checkers.get(short_name(iri))
            if checker is not None and (strict or checker.model.enforce):
                checker.check(before, after)

    def checker(self, type_name: str) -> Checker:
        """The compiled model of a type (ResourceNotFound if there is none)."""
        found = self._checkers.get(type_name)
        if found is None:
            raise ResourceNotFound(f"no data model for type {type_name}")
        return found

    # --- admin --------------------------------------------------------------------------

    async def models(self) -> list[DataModel]:
        """Every effective model, by type name."""
        await self._reload()
        return [self._checkers[name].model for name in sorted(self._checkers)]

    async def model(self, type_name: str) -> DataModel:
        """One effective model (ResourceNotFound if there is none)."""
        await self._reload()
        return self.checker(type_name).model

    async def put(self, type_name: str, body: Any) -> bool:
        """Add or replace an operator's model (``extends``: on top of the built-in one);
        returns True when the type had no model before."""
        if not isinstance(body, dict):
            raise BadRequestData("the body must be a JSON object with a schema")
        unknown = set(body) - {"schema", "extends", "enforce", *_DOC_KEYS}
        if unknown:
            raise BadRequestData(f"unknown members in a data model: {', '.join(sorted(unknown))}")
        if "schema" not in body:
            raise BadRequestData("a data model needs a schema (a JSON Schema of keyValues)")
        extends = _flag(body, "extends")
        if extends and type_name not in self.builtin:
            raise BadRequestData(f"there is no built-in {type_name} model to extend")
        doc: dict[str, Any] = {k: _text(body, k) for k in _DOC_KEYS if k in body}
        doc |= {"schema": body["schema"], "extends": extends}
        Checker.of(self._model(type_name, doc, _flag(body, "enforce"), now_iso()))  # usable?
        await self._reload()
        is_new = type_name not in self._checkers
        await self._save(type_name, doc, _flag(body, "enforce"))
        return is_new

    async def patch(self, type_name: str, body: Any) -> None:
        """Change ``enforce`` (and title, description, source) of a model, built-in or not."""
        if not isinstance(body, dict) or not body:
            raise BadRequestData("the body must be a JSON object with members to change")
        unknown = set(body) - {"enforce", *_DOC_KEYS}
        if unknown:
            raise BadRequestData(
                f"PATCH changes only enforce, title, description and source, "
                f"not {', '.join(sorted(unknown))} (PUT replaces a schema)"
            )
        current = await self.model(type_name)
        rows = await self.db.rows("SELECT doc FROM data_models WHERE type_name = ?", type_name)
        doc = orjson.loads(rows[0][0]) if rows else {"schema": None, "extends": False}
        doc |= {k: _text(body, k) for k in _DOC_KEYS if k in body}
        enforce = _flag(body, "enforce") if "enforce" in body else current.enforce
        await self._save(type_name, doc, enforce)

    async def delete(self, type_name: str) -> None:
        """Remove the operator's model or changes (a built-in model goes back to as shipped)."""
        (count,) = await self.db.run(
            [("DELETE FROM data_models WHERE type_name = ?", (type_name,))]
        )
        self._read_at = float("-inf")
        if not count:
            if type_name in self.builtin:
                raise ResourceNotFound(f"the built-in {type_name} model has no changes to remove")
            raise ResourceNotFound(f"no data model for type {type_name}")

    # --- inside -------------------------------------------------------------------------

    async def _save(self, type_name: str, doc: dict[str, Any], enforce: bool) -> None:
        args = (type_name, orjson.dumps(doc).decode(), int(enforce), now_iso())
        await self.db.run(
            [
                ("DELETE FROM data_models WHERE type_name = ?", (type_name,)),
                (
                    "INSERT INTO data_models (type_name, doc, enforce, updated_at) "
                    "VALUES (?, ?, ?, ?)",
                    args,
                ),
            ]
        )
        self._read_at = float("-inf")

    async def _reload(self) -> None:
        rows = await self.db.rows("SELECT type_name, doc, enforce, updated_at FROM data_models")
        checkers = dict(self._builtin_checkers)
        stored: dict[str, tuple[str, Checker]] = {}
        for type_name, raw, enforce, updated_at in rows:
            kept = self._stored.get(type_name)
            if kept is not None and kept[0] == updated_at:
                checker = kept[1]  # compiled already
            else:
                doc = orjson.loads(raw)
                if doc.get("schema") is None and type_name not in self.builtin:
                    continue  # changes to a built-in model this version no longer ships
                try:
                    checker = Checker.of(self._model(type_name, doc, bool(enforce), updated_at))
                except BadRequestData as err:  # stored by a version that accepted it
                    log.error("data model %s is not usable and is ignored: %s", type_name, err)
                    continue
            stored[type_name] = (updated_at, checker)
            checkers[type_name] = checker
        self._stored, self._checkers = stored, checkers
        self._read_at = time.monotonic()

    def _model(self, type_name: str, doc: dict[str, Any], enforce: bool, at: str) -> DataModel:
        base = self.builtin.get(type_name)
        texts = {k: doc.get(k, getattr(base, k, "")) for k in _DOC_KEYS}
        if doc.get("schema") is None:  # the built-in model, switched on or retitled
            assert base is not None
            return DataModel(type_name, base.schema, **texts, enforce=enforce, updated_at=at)
        if doc.get("extends") and base is not None:
            return DataModel(
                type_name,
                base.schema,
                **texts,
                origin="extended",
                extension=doc["schema"],
                enforce=enforce,
                updated_at=at,
            )
        return DataModel(
            type_name, doc["schema"], **texts, origin="custom", enforce=enforce, updated_at=at
        )


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadRequestData(f"{key} must be true or false")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise BadRequestData(f"{key} must be a string")
    return value
