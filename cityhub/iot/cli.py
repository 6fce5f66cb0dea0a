"""``cityhub iot``: provision service groups and devices, and handle dead letters, on a
running hub over its HTTP API (``/iot/services``, ``/iot/devices``, ``/iot/dead-letters``).

Output is a readable table unless ``--json`` (the API's own JSON). A hub error (ProblemDetails)
is one ``error: <detail>`` line on stderr and exit code 1; so is a hub that cannot be reached
and an input file that is not the JSON expected (checked before any request).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import click
import httpx

DEFAULT_URL = "http://127.0.0.1:1026"
F = TypeVar("F", bound=Callable[..., Any])
_MAX_PAGE = 1000  # the API's largest page
_REASON_WIDTH = 60
_TIMEOUT_S = 30.0


class CliError(click.ClickException):
    """One ``error: ...`` line on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class HubError(CliError):
    """The hub refused a request (its ProblemDetails ``detail``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Hub:
    """The hub's IoT API over HTTP, with the tenant and service path of the command line."""

    def __init__(
        self, url: str, service: str | None, service_path: str | None, token: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.headers: dict[str, str] = {"Authorization": f"Bearer {token}"} if token else {}
        if service:
            self.headers["fiware-service"] = service
        if service_path:
            self.headers["fiware-servicepath"] = service_path
        self._http: httpx.Client | None = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """Send a request; a refusal raises HubError, an unreachable hub CliError."""
        if self._http is None:
            self._http = httpx.Client(headers=self.headers, timeout=_TIMEOUT_S)
        try:
            resp = self._http.request(method, self.url + path, params=params, json=body)
        except httpx.TimeoutException:
            raise CliError(
                f"the hub at {self.url} did not answer within {_TIMEOUT_S:g} s"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
            raise CliError(f"bad hub URL {self.url!r}: {err}") from None
        except httpx.TransportError as err:
            raise CliError(
                f"cannot reach the hub at {self.url} ({err}); start it with `cityhub serve` "
                "or give its address with --url or CITYHUB_URL"
            ) from None
        if resp.status_code >= 400:
            raise HubError(_problem(resp), resp.status_code)
        return resp

    def get(self, path: str, **params: Any) -> Any:
        """The JSON body of a GET (None-valued parameters left out)."""
        query = {k: v for k, v in params.items() if v is not None}
        resp = self.request("GET", path, params=query)
        try:
            return resp.json()
        except ValueError:
            raise CliError(f"{self.url} answered {path} with no JSON: is it a cityhub?") from None


def _problem(resp: httpx.Response) -> str:
    """What a refusal says: the ProblemDetails detail (or title), else the HTTP status."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for member in ("detail", "title"):
            if isinstance(body.get(member), str) and body[member]:
                return str(body[member])
    text = resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
    return f"the hub answered HTTP {resp.status_code} {resp.reason_phrase}" + (
        f": {text}" if text else ""
    )


# --- output -----------------------------------------------------------------------------------


def _print_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _footer(shown: int, offset: int, count: int) -> None:
    if count > offset + shown or offset:
        first = offset + 1 if shown else offset
        click.echo(f"({first}-{offset + shown} of {count}; use --offset and --limit for more)")


def _show_doc(doc: dict[str, Any]) -> None:
    """A document as ``member: value`` lines; arrays of objects one item a line."""
    width = max((len(k) for k in doc), default=0) + 1
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            click.echo(f"{key}:")
            for item in value:
                click.echo(f"  - {_cell(item)}")
        else:
            click.echo(f"{(key + ':').ljust(width)} {_cell(value)}")


def _time(value: Any) -> str:
    """An NGSI-LD DateTime to the second, for tables."""
    return str(value)[:19].replace("T", " ") if isinstance(value, str) else "-"


# --- input ------------------------------------------------------------------------------------


def _read_json(source: str) -> Any:
    name = "standard input" if source == "-" else source
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {name}: {err.strerror or err}") from None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise CliError(f"{name} is not valid JSON: {err}") from None


def _body(source: str, member: str, what: str, other: str) -> dict[str, Any]:
    """The POST body ``{member: [...]}`` of a file holding it, an array of objects or one
    object (wrapped); a file of another shape is refused before any request."""
    doc = _read_json(source)
    name = "standard input" if source == "-" else source
    if isinstance(doc, dict) and member in doc:
        items = doc[member]
    elif isinstance(doc, dict) and other in doc:
        raise CliError(f'{name} holds {{"{other}": [...]}}: use `cityhub iot {other} add`')
    elif isinstance(doc, dict):
        items = [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        raise CliError(
            f'{name} must hold {{"{member}": [...]}}, an array of {what}s or one {what} object'
        )
    if not isinstance(items, list) or not items:
        raise CliError(f'{name}: "{member}" must be a non-empty array of {what} objects')
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise CliError(f"{name}: {what} {n} is not a JSON object")
    return {member: items}


# --- the group --------------------------------------------------------------------------------


@click.group("iot", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="CITYHUB_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The hub's address (or CITYHUB_URL).",
)
@click.option(
    "--token",
    envvar="CITYHUB_TOKEN",
    help="Login token or API key (or CITYHUB_TOKEN); needed when the hub has auth on.",
)
@click.option("--service", help="Tenant (fiware-service header).")
@click.option(
    "--service-path",
    help="Service path (fiware-servicepath header); lists show every one unless given.",
)
@click.pass_context
def iot(
    ctx: click.Context,
    url: str,
    token: str | None,
    service: str | None,
    service_path: str | None,
) -> None:
    """Devices and dead letters of a running hub."""
    hub = Hub(url, service, service_path, token)
    ctx.obj = hub
    ctx.call_on_close(hub.close)


def _limit_options(default: int) -> Callable[[F], F]:
    """``--limit`` (at most the API's page) and ``--offset``."""

    def decorate(f: F) -> F:
        f = click.option(
            "--offset", type=click.IntRange(min=0), default=0, help="Skip this many first."
        )(f)
        return click.option(
            "--limit",
            type=click.IntRange(1, _MAX_PAGE),
            default=default,
            show_default=True,
            help="At most this many.",
        )(f)

    return decorate


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")

# --- service groups ---------------------------------------------------------------------------


@iot.group()
def services() -> None:
    """Service groups: API keys, device defaults."""


@services.command("list")
@_limit_options(100)
@_json_option
@click.pass_obj
def services_list(hub: Hub, limit: int, offset: int, as_json: bool) -> None:
    """List the service groups."""
    body = hub.get("/iot/services", limit=limit, offset=offset)
    if as_json:
        _print_json(body)
        return
    groups: list[dict[str, Any]] = body.get("services", [])
    if not groups:
        click.echo("no service groups")
        return
    _table(
        ("APIKEY", "RESOURCE", "SERVICE PATH", "ENTITY TYPE", "AUTOPROVISION", "ATTRIBUTES"),
        [
            (
                g.get("apikey"),
                g.get("resource"),
                g.get("service_path"),
                g.get("entity_type"),
                g.get("autoprovision", True),
                len(g.get("attributes") or []),
            )
            for g in groups
        ],
    )
    _footer(len(groups), offset, int(body.get("count", len(groups))))


@services.command("add")
@click.argument("source", metavar="FILE_OR_-")
@click.pass_obj
def services_add(hub: Hub, source: str) -> None:
    """Provision service groups from JSON.

    FILE_OR_- (- reads stdin) holds {"services": [...]} as the API takes it, an array of
    service groups, or one service group object.
    """
    body = _body(source, "services", "service group", "devices")
    hub.request("POST", "/iot/services", body=body)
    n = len(body["services"])
    click.echo(f"added {n} service group{'s' if n != 1 else ''}")


@services.command("remove")
@click.option("--apikey", required=True, help="The group's API key.")
@click.option("--resource", default="/iot/json", show_default=True, help="The group's resource.")
@click.pass_obj
def services_remove(hub: Hub, apikey: str, resource: str) -> None:
    """Remove a service group (devices stay)."""
    hub.request("DELETE", "/iot/services", params={"apikey": apikey, "resource": resource})
    click.echo(f"removed service group {apikey} {resource}")


# --- devices ----------------------------------------------------------------------------------


@iot.group()
def devices() -> None:
    """Devices and the entities they update."""


def _device_path(device_id: str) -> str:
    return f"/iot/devices/{quote(device_id, safe='')}"


@devices.command("list")
@_limit_options(100)
@_json_option
@click.pass_obj
def devices_list(hub: Hub, limit: int, offset: int, as_json: bool) -> None:
    """List the provisioned devices."""
    body = hub.get("/iot/devices", limit=limit, offset=offset)
    if as_json:
        _print_json(body)
        return
    found: list[dict[str, Any]] = body.get("devices", [])
    if not found:
        click.echo("no devices")
        return
    _table(
        ("DEVICE", "ENTITY", "ENTITY TYPE", "APIKEY", "SERVICE PATH", "PROTOCOL"),
        [
            (
                d.get("device_id"),
                d.get("entity_name"),
                d.get("entity_type"),
                d.get("apikey"),
                d.get("service_path"),
                d.get("protocol"),
            )
            for d in found
        ],
    )
    _footer(len(found), offset, int(body.get("count", len(found))))


@devices.command("show")
@click.argument("device_id", metavar="ID")
@_json_option
@click.pass_obj
def devices_show(hub: Hub, device_id: str, as_json: bool) -> None:
    """Show one device."""
    doc = hub.get(_device_path(device_id))
    if as_json:
        _print_json(doc)
    else:
        _show_doc(doc)


@devices.command("add")
@click.argument("source", metavar="FILE_OR_-")
@click.pass_obj
def devices_add(hub: Hub, source: str) -> None:
    """Provision devices from JSON.

    FILE_OR_- (- reads stdin) holds {"devices": [...]} as the API takes it, an array of
    devices, or one device object.
    """
    body = _body(source, "devices", "device", "services")
    hub.request("POST", "/iot/devices", body=body)
    n = len(body["devices"])
    click.echo(f"added {n} device{'s' if n != 1 else ''}")


@devices.command("remove")
@click.argument("device_id", metavar="ID")
@click.pass_obj
def devices_remove(hub: Hub, device_id: str) -> None:
    """Remove a device (its entities stay)."""
    hub.request("DELETE", _device_path(device_id))
    click.echo(f"removed device {device_id}")


# --- dead letters -----------------------------------------------------------------------------


@iot.group("dead-letters")
def dead_letters() -> None:
    """Refused measures: inspect, replay, discard.

    A measure message the hub could not take is kept with its raw payload and why.
    """


_device_option = click.option("--device", "device_id", help="Only those of this device id.")


@dead_letters.command("list")
@_device_option
@_limit_options(20)
@_json_option
@click.pass_obj
def dead_letters_list(
    hub: Hub, device_id: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """List dead letters, oldest first."""
    body = hub.get("/iot/dead-letters", device_id=device_id, limit=limit, offset=offset)
    if as_json:
        _print_json(body)
        return
    letters: list[dict[str, Any]] = body.get("deadLetters", [])
    if not letters:
        click.echo("no dead letters")
        return
    _table(
        ("ID", "TIME (UTC)", "SOURCE", "DEVICE", "REASON"),
        [
            (
                d.get("id"),
                _time(d.get("receivedAt")),
                d.get("source"),
                d.get("device_id"),
                _truncate(str(d.get("reason", "")), _REASON_WIDTH),
            )
            for d in letters
        ],
    )
    _footer(len(letters), offset, int(body.get("count", len(letters))))


@dead_letters.command("counts")
@_json_option
@click.pass_obj
def dead_letters_counts(hub: Hub, as_json: bool) -> None:
    """Count dead letters per device and error type."""
    counts: list[dict[str, Any]] = hub.get("/iot/dead-letters/counts")
    if as_json:
        _print_json(counts)
        return
    if not counts:
        click.echo("no dead letters")
        return
    _table(
        ("DEVICE", "ERROR", "COUNT"),
        [(c.get("device_id"), c.get("error"), c.get("count")) for c in counts],
    )
    click.echo(f"total: {sum(int(c.get('count', 0)) for c in counts)}")


@dead_letters.command("show")
@click.argument("ident", metavar="ID", type=int)
@_json_option
@click.pass_obj
def dead_letters_show(hub: Hub, ident: int, as_json: bool) -> None:
    """Show one dead letter with its raw payload."""
    doc: dict[str, Any] = hub.get(f"/iot/dead-letters/{ident}")
    if as_json:
        _print_json(doc)
        return
    payload = doc.get("payload") or {}
    rows = [
        ("id", doc.get("id")),
        ("received", doc.get("receivedAt")),
        ("source", f"{doc.get('source')} {doc.get('resource')}"),
        ("device", doc.get("device_id")),
        ("apikey", doc.get("apikey")),
        ("service path", doc.get("service_path")),
        ("format", doc.get("format")),
        ("error", doc.get("error")),
        ("reason", doc.get("reason")),
    ]
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        click.echo(f"{(name + ':').ljust(width)} {_cell(value)}")
    if "text" in payload:
        click.echo("payload:")
        click.echo(payload["text"])
    else:
        click.echo("payload (base64, not UTF-8):")
        click.echo(payload.get("base64", ""))


def _all_letters(hub: Hub, device_id: str | None) -> list[dict[str, Any]]:
    """Every dead letter (of a device), read page by page before any is changed."""
    found: list[dict[str, Any]] = []
    while True:
        body = hub.get("/iot/dead-letters", device_id=device_id, limit=_MAX_PAGE, offset=len(found))
        page: list[dict[str, Any]] = body.get("deadLetters", [])
        found.extend(page)
        if not page or len(found) >= int(body.get("count", 0)):
            return found


def _chosen(
    hub: Hub, idents: tuple[int, ...], every: bool, device_id: str | None
) -> list[dict[str, Any]]:
    """The dead letters a replay or discard is about; every named one must exist."""
    if every == bool(idents):
        raise click.UsageError("give dead letter ids or --all, not both")
    if device_id is not None and not every:
        raise click.UsageError("--device goes with --all")
    if every:
        return _all_letters(hub, device_id)
    return [hub.get(f"/iot/dead-letters/{i}") for i in dict.fromkeys(idents)]


def _selection_options(f: F) -> F:
    """Which dead letters: ``ID...`` or ``--all`` (``--device``)."""
    f = click.option("--device", "device_id", help="With --all: only this device's.")(f)
    f = click.option("--all", "every", is_flag=True, help="Every dead letter (of --device).")(f)
    return click.argument("idents", metavar="[ID]...", nargs=-1, type=int)(f)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dead_letters.command("replay")
@_selection_options
@_json_option
@click.pass_obj
def dead_letters_replay(
    hub: Hub, idents: tuple[int, ...], every: bool, device_id: str | None, as_json: bool
) -> None:
    """Take dead letters again, after a fix.

    Each one taken leaves the list; one refused again is kept as a new dead letter and the
    command exits with 1 after saying why.
    """
    letters = _chosen(hub, idents, every, device_id)
    taken: list[int] = []
    failed: list[dict[str, Any]] = []
    for letter in letters:
        try:
            hub.request("POST", f"/iot/dead-letters/{letter['id']}/replay")
        except HubError as err:
            failed.append(
                {"id": letter["id"], "device_id": letter.get("device_id"), "reason": err.message}
            )
        else:
            taken.append(int(letter["id"]))
    if as_json:
        _print_json({"taken": taken, "failed": failed})
    elif not letters:
        click.echo("no dead letters to replay")
    else:
        click.echo(
            f"replayed {_plural(len(letters), 'dead letter')}: {len(taken)} taken, "
            f"{len(failed)} failed again"
        )
        for f in failed:
            click.echo(f"  {f['id']} ({f['device_id']}): {f['reason']}")
        if failed:
            click.echo("(each refused one is kept again as a new dead letter)")
    if failed:
        click.get_current_context().exit(1)


@dead_letters.command("discard")
@_selection_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before discarding with --all.")
@click.pass_obj
def dead_letters_discard(
    hub: Hub, idents: tuple[int, ...], every: bool, device_id: str | None, yes: bool
) -> None:
    """Delete dead letters for good."""
    letters = _chosen(hub, idents, every, device_id)
    if not letters:
        click.echo("no dead letters to discard")
        return
    if every and not yes:
        of = f" of device {device_id}" if device_id else ""
        click.confirm(f"discard {_plural(len(letters), 'dead letter')}{of}?", abort=True)
    gone = 0
    for letter in letters:
        try:
            hub.request("DELETE", f"/iot/dead-letters/{letter['id']}")
            gone += 1
        except HubError as err:
            if err.status != 404:  # already gone: fine
                raise
    click.echo(f"discarded {_plural(gone, 'dead letter')}")
