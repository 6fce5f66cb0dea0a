"""Settings: sources and precedence, errors, and the generated configuration reference."""

from __future__ import annotations

from pathlib import Path

import pytest

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
