"""Settings: sources and precedence, errors, and the generated configuration reference."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityhub.cli import _settings_json, app_from_env
from cityhub.errors import ConfigError
from cityhub.settings import SETTINGS, load_settings, settings_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_doc_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == settings_markdown(), "run `make docs` to regenerate docs/configuration.md"
    for s in SETTINGS:
        assert f"`CITYHUB_{s.name.upper()}`" in doc
        assert s.help


def test_defaults_use_sqlite_in_data_dir() -> None:
    settings = load_settings(env={})
    assert settings.port == 1026
    assert settings.database_url == "sqlite:///cityhub-data/cityhub.db"


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('port = 2000\nhost = "0.0.0.0"\nworkers = 3\n', encoding="utf-8")
    env = {"CITYHUB_CONFIG": str(config), "CITYHUB_PORT": "3000"}
    settings = load_settings({"workers": 5}, env=env)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 3000, 5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CITYHUB_PORT": "eighty"}, "CITYHUB_PORT: port must be a int"),
        ({"CITYHUB_CONFIG": "/nonexistent/hub.toml"}, "cannot read config file"),
        ({"CITYHUB_GC_THRESHOLD": "-1"}, "gc_threshold must be 0 or more"),
    ],
)
def test_bad_values_name_the_source(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_unknown_or_malformed_file_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("prot = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(config_file=str(bad), env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=str(broken), env={})


@pytest.fixture
def python_gc() -> Iterator[None]:
    """Python's garbage-collector settings, put back after the test."""
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.mark.parametrize(("threshold", "young"), [(50_000, 50_000), (0, 700)])
def test_server_processes_collect_garbage_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python_gc: None, threshold: int, young: int
) -> None:
    gc.set_threshold(700, 10, 10)
    settings = load_settings({"data_dir": str(tmp_path), "gc_threshold": threshold}, env={})
    monkeypatch.setitem(os.environ, "CITYHUB_SETTINGS_JSON", _settings_json(settings))
    app_from_env()  # what each server worker process runs
    assert gc.get_threshold() == (young, 10, 10)
    assert (gc.get_freeze_count() > 0) == (threshold > 0)  # start-up objects left out
