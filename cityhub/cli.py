"""The ``cityhub`` command line: serve the hub, print settings."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from cityhub import __version__
from cityhub.auth.cli import user
from cityhub.errors import ConfigError
from cityhub.importer.command import import_command
from cityhub.iot.cli import iot
from cityhub.settings import Settings, load_settings, settings_markdown
from cityhub.sim.cli import agency


def _fail(message: str) -> None:
    click.echo(f"cityhub: error: {message}", err=True)
    sys.exit(2)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use; pick another with --port"
            ) from err
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _check_data_dir(settings: Settings) -> None:
    if settings.database:
        return
    path = Path(settings.data_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create data directory {path}: {err.strerror}") from err
    if not os.access(path, os.W_OK):
        raise ConfigError(f"data directory {path} is not writable")


async def _check_database(settings: Settings) -> None:
    from cityhub.storage import storage_for

    storage = storage_for(settings.database_url, settings)
    await storage.open()
    await storage.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cityhub")
def main() -> None:
    """cityhub: the open-source smart-city platform (NGSI-LD data hub and more)."""


@main.command()
@click.option("--host", help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, help="HTTP port [1026].")
@click.option("--database", help="sqlite:///path/to.db or postgresql://user@host/db.")
@click.option("--data-dir", help="Directory for the embedded database [./cityhub-data].")
@click.option("--workers", type=int, help="Worker processes [1].")
@click.option(
    "--config",
    "config_file",
    type=click.Path(),
    help="TOML file with settings (see docs/configuration.md).",
)
@click.option("--log-level", help="debug, info, warning or error [info].")
@click.option("--mqtt", "mqtt_url", help="MQTT broker to take device measures from.")
@click.option(
    "--auth",
    type=click.Choice(["on", "off"]),
    help="Access control [on]; off only on a loopback address, for development.",
)
def serve(config_file: str | None, **flags: Any) -> None:
    """Run the data hub's HTTP API (NGSI-LD under /ngsi-ld/v1)."""
    try:
        settings = load_settings(flags, config_file=config_file)
        _check_data_dir(settings)
        asyncio.run(_check_database(settings))
        sock = _bind(settings.host, settings.port)
    except ConfigError as err:
        _fail(str(err))
        return
    _run(settings, sock)


@main.command()
@click.option("--host", help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, help="HTTP port [1026].")
@click.option("--data-dir", help="Directory for the embedded database [./cityhub-data].")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the demo city.")
@click.option("--mqtt", "mqtt_url", help="MQTT broker to take device measures from.")
def demo(seed: int, **flags: Any) -> None:
    """Run the hub with the demo city: a Gwacheon-sized district with parking, air quality,
    CCTV, hydrants, facilities, care households and roads, every city service set up, and
    the dashboard at /. The city is written on the first start; later starts resume it."""
    if seed == 0:
        _fail("--seed must not be 0 (0 means no demo city)")
        return
    try:
        settings = load_settings({**flags, "demo_seed": seed})
        _check_data_dir(settings)
        asyncio.run(_check_database(settings))
        sock = _bind(settings.host, settings.port)
    except ConfigError as err:
        _fail(str(err))
        return
    click.echo(
        f"cityhub demo city (seed {seed}): open http://{settings.host}:{settings.port}/ "
        "and log in as admin (the password is shown below on the first start; "
        "`cityhub user passwd admin` sets a new one). Ctrl-C stops; a second run resumes.",
        err=True,
    )
    _run(settings, sock)


def _run(settings: Settings, sock: socket.socket) -> None:
    import uvicorn

    os.environ["CITYHUB_SETTINGS_JSON"] = _settings_json(settings)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    click.echo(
        f"cityhub {__version__} serving NGSI-LD at "
        f"http://{settings.host}:{settings.port}/ngsi-ld/v1 "
        f"(database {_redact(settings.database_url)}, workers {settings.workers})",
        err=True,
    )
    config = uvicorn.Config(
        "cityhub.cli:app_from_env",
        factory=True,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    if settings.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def _settings_json(settings: Settings) -> str:
    import orjson

    return orjson.dumps({f: getattr(settings, f) for f in settings.__slots__}).decode()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


def app_from_env() -> Any:
    """App factory for server workers: settings travel in CITYHUB_SETTINGS_JSON."""
    import orjson

    from cityhub.app import create_app

    data = orjson.loads(os.environ["CITYHUB_SETTINGS_JSON"])
    return create_app(Settings(**data))


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the configuration reference.")
@click.option("--config", "config_file", type=click.Path(), help="TOML settings file.")
def show_settings(markdown: bool, config_file: str | None) -> None:
    """Show the settings in force (or their reference with --markdown)."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    try:
        settings = load_settings(config_file=config_file)
    except ConfigError as err:
        _fail(str(err))
        return
    for name in settings.__slots__:
        click.echo(f"{name} = {getattr(settings, name)!r}")


main.add_command(iot)
main.add_command(agency)
main.add_command(import_command)
main.add_command(user)

if __name__ == "__main__":
    main()
