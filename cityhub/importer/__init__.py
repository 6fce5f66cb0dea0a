"""Bulk import of CSV, GeoJSON and NGSI-LD JSON files into the hub (``cityhub import``).

Rows are read as a stream, turned into NGSI-LD entities by a mapping file (mapping.py), their
coordinates projected to WGS84 (geo.py), and upserted in batches into a sink: a running hub
over HTTP or a hub's database in-process (sinks.py). Progress is recorded so an interrupted
import continues where it stopped (state.py). docs/import.md is the user's guide.

The names below load on first use, so the ``cityhub`` command starts without the importer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cityhub.importer.errors import ImportFailed, MappingError
    from cityhub.importer.pipeline import ImportOptions, ImportResult, run_import

__all__ = ["ImportFailed", "ImportOptions", "ImportResult", "MappingError", "run_import"]


def __getattr__(name: str) -> Any:
    if name in ("ImportFailed", "MappingError"):
        from cityhub.importer import errors

        return getattr(errors, name)
    if name in ("ImportOptions", "ImportResult", "run_import"):
        from cityhub.importer import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
