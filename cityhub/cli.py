"""The ``cityhub`` command line: serve the hub, print settings."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import hashlib
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
from cityhub.sim.scenarios import scenario
from cityhub.sim.simulate import simulate


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
@click.option(
    "--mqtt",
    "mqtt_url",
    help="MQTT broker for device measures [mqtt://127.0.0.1:1883 when it answers, else one "
    "started for the demo].",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Speed of the simulated sensors' clock (60: a simulated day in 24 minutes).",
)
@click.option("--no-simulate", is_flag=True, help="Do not run the sensor simulator.")
def demo(seed: int, mqtt_url: str | None, speed: float, no_simulate: bool, **flags: Any) -> None:
    """Run the hub with the demo city: a Gwacheon-sized district with parking, air quality,
    CCTV, hydrants, facilities, care households and roads, every city service set up, and
    the dashboard at /. The city is written on the first start; later starts resume it.
    Device measures come in over MQTT (Mosquitto when it answers, else a broker started for
    the demo) from the simulator of the city's sensors (see docs/simulator.md)."""
    from cityhub.sim.companion import Companion

    if seed == 0:
        _fail("--seed must not be 0 (0 means no demo city)")
        return
    try:
        demo_flags: dict[str, Any] = {**flags, "demo_seed": seed}
        if not os.environ.get("CITYHUB_PARKING_NOTICE_IMMEDIATE"):
            # the demo city texts drivers in hydrant zones too, as the bus cameras' two passes
            # leave them time to move (a city's choice; the environment says otherwise)
            demo_flags["parking_notice_immediate"] = True
        settings = load_settings(demo_flags)
        _check_data_dir(settings)
        asyncio.run(_check_database(settings))
        sock = _bind(settings.host, settings.port)
    except ConfigError as err:
        _fail(str(err))
        return
    if settings.workers > 1 and not no_simulate:  # it starts in the server's process
        click.echo("cityhub demo: the simulator runs with one worker only: not started", err=True)
        no_simulate = True
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(settings.host, settings.host)
    companion = Companion(
        mqtt_url=mqtt_url or settings.mqtt_url or None,
        hub_url=f"http://{host}:{settings.port}",
        seed=seed,
        simulate=not no_simulate,
        speed=speed,
    )
    try:
        broker = companion.start()
    except ValueError as err:
        sock.close()
        _fail(f"--mqtt: {err}")
        return
    settings = dataclasses.replace(
        settings, mqtt_url=broker.url, mqtt_client_id=_demo_client_id(settings)
    )
    click.echo(
        f"cityhub demo city (seed {seed}): open http://{settings.host}:{settings.port}/ "
        "and log in as admin (the password is shown below on the first start; "
        "`cityhub user passwd admin` sets a new one). Ctrl-C stops; a second run resumes.",
        err=True,
    )
    click.echo(f"cityhub demo: {broker.describe()}", err=True)
    if not no_simulate:
        click.echo(f"cityhub demo: simulating the city's sensors at x{speed:g}", err=True)
    try:
        _run(settings, sock)
    finally:
        companion.stop()


def _demo_client_id(settings: Settings) -> str:
    """The demo's MQTT client id: one per data directory (two demos on one broker would
    take each other's session), unless configured."""
    if settings.mqtt_client_id != "cityhub-ingest":
        return settings.mqtt_client_id
    where = str(Path(settings.data_dir).expanduser().resolve())
    return "cityhub-demo-" + hashlib.sha1(where.encode()).hexdigest()[:10]


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
    try:
        if settings.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C: the server has shut down gracefully; no "Aborted!"
        pass
    click.echo("cityhub stopped", err=True)


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

    from cityhub.app import create_app, tune_gc

    settings = Settings(**orjson.loads(os.environ["CITYHUB_SETTINGS_JSON"]))
    app = create_app(settings)
    tune_gc(settings.gc_threshold)
    return app


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
main.add_command(simulate)
main.add_command(scenario)
main.add_command(import_command)
main.add_command(user)

if __name__ == "__main__":
    main()
