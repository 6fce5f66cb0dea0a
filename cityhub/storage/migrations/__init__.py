"""Versioned schema migrations, one folder per backend, files ``NNNN_name.sql`` applied in order."""

from __future__ import annotations

from importlib import resources


def migration_scripts(backend: str) -> list[tuple[int, str]]:
    """(version, SQL) pairs for a backend, in version order."""
    folder = resources.files("cityhub.storage.migrations").joinpath(backend)
    scripts = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            scripts.append((int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8")))
    return sorted(scripts)
