"""`cityhub iot ...` against a real hub process: provisioning, dead letters, errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from cityhub.cli import main
from cityhub.iot.cli import iot
from tests.test_cli import Server, free_port

pytestmark = pytest.mark.slow

GROUP = {
    "apikey": "k-air",
    "entity_type": "AirQualityObserved",
    "autoprovision": False,
    "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
}
DEVICE = {
    "device_id": "aq-031",
    "apikey": "k-air",
    "entity_name": "urn:ngsi-ld:AirQualityObserved:gw-031",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One hub for the module (each test works in a tenant of its own)."""
    srv = Server("--data-dir", str(tmp_path_factory.mktemp("iot-cli") / "data"))
    yield srv
    srv.stop()


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def cli(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `cityhub ...` in this process, stdout and stderr apart."""
    return CliRunner().invoke(main, list(args), input=input, env=env)


def ok(*args: str, input: str | None = None) -> str:
    """Run `cityhub ...` that must succeed; its stdout."""
    result = cli(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def fails(*args: str, message: str, input: str | None = None) -> Result:
    """Run `cityhub ...` that must fail with one `error: ...` line naming message."""
    result = cli(*args, input=input)
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    return result


def send(hub: Server, tenant: str, device: str, payload: bytes) -> httpx.Response:
    """A device posting IoT Agent JSON measures."""
    return httpx.post(
        f"{hub.url}/iot/json",
        params={"k": "k-air", "i": device},
        content=payload,
        headers={"fiware-service": tenant, "Content-Type": "application/json"},
        timeout=10,
    )


def test_every_command_has_help() -> None:
    def walk(cmd: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        yield path, cmd
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, f"{path} {name}")

    found = dict(walk(iot, "iot"))
    assert len(found) == 16  # the group, 3 subgroups, 12 commands
    for path, cmd in found.items():
        assert cmd.get_short_help_str(limit=80).strip(), path
        assert "..." not in cmd.get_short_help_str(limit=45), path  # one line, not cut
    assert "dead-letters" in ok("iot", "--help")


def test_provision_list_show_remove(hub: Server, tenant: str, tmp_path: Path) -> None:
    base = ("iot", "--url", hub.url, "--service", tenant)
    assert ok(*base, "services", "list") == "no service groups\n"
    group_file = tmp_path / "group.json"
    group_file.write_text(json.dumps(GROUP), encoding="utf-8")  # one object: wrapped
    scoped = (*base, "--service-path", "/air")
    assert ok(*scoped, "services", "add", str(group_file)) == "added 1 service group\n"

    table = ok(*base, "services", "list").splitlines()
    assert table[0].split() == [
        "APIKEY",
        "RESOURCE",
        "SERVICE",
        "PATH",
        "ENTITY",
        "TYPE",
        "AUTOPROVISION",
        "ATTRIBUTES",
    ]
    assert table[1].split() == ["k-air", "/iot/json", "/air", "AirQualityObserved", "no", "1"]
    listed = json.loads(ok(*base, "services", "list", "--json"))
    assert listed["count"] == 1 and listed["services"][0]["apikey"] == "k-air"
    assert ok(*base, "--service-path", "/other", "services", "list") == "no service groups\n"

    # devices: the API's own body, on stdin
    body = json.dumps({"devices": [DEVICE, {"device_id": "aq-032", "apikey": "k-air"}]})
    assert ok(*scoped, "devices", "add", "-", input=body) == "added 2 devices\n"
    table = ok(*base, "devices", "list").splitlines()
    assert table[1].split()[:4] == [
        "aq-031",
        "urn:ngsi-ld:AirQualityObserved:gw-031",
        "AirQualityObserved",
        "k-air",
    ]
    assert table[2].split()[:2] == ["aq-032", "urn:ngsi-ld:AirQualityObserved:aq-032"]
    assert "(1-1 of 2; use --offset and --limit for more)" in ok(
        *base, "devices", "list", "--limit", "1"
    )
    shown = ok(*base, "devices", "show", "aq-031")
    assert "entity_name:  urn:ngsi-ld:AirQualityObserved:gw-031\n" in shown
    assert "service_path: /air\n" in shown
    assert json.loads(ok(*base, "devices", "show", "aq-031", "--json"))["apikey"] == "k-air"

    # the provisioning reached the hub: the Device entity stands
    r = httpx.get(
        f"{hub.url}/ngsi-ld/v1/entities/urn:ngsi-ld:Device:aq-031",
        headers={"NGSILD-Tenant": tenant},
    )
    assert r.status_code == 200, r.text

    assert ok(*base, "devices", "remove", "aq-032") == "removed device aq-032\n"
    fails(*base, "devices", "show", "aq-032", message="error: no device aq-032")
    assert (
        ok(*base, "services", "remove", "--apikey", "k-air")
        == "removed service group k-air /iot/json\n"
    )
    assert ok(*base, "services", "list") == "no service groups\n"


def test_dead_letters_list_replay_after_the_fix_and_discard(hub: Server, tenant: str) -> None:
    base = ("iot", "--url", hub.url, "--service", tenant)
    ok(*base, "services", "add", "-", input=json.dumps({"services": [GROUP]}))
    # the group does not autoprovision: an unknown device's measure is refused and kept
    r = send(hub, tenant, "aq-031", b'{"p10": 41}')
    assert r.status_code == 404, r.text
    r = send(hub, tenant, "aq-031", b"p10 is 41")  # not JSON: cannot be fixed
    assert r.status_code == 400, r.text

    table = ok(*base, "dead-letters", "list").splitlines()
    assert table[0].split() == ["ID", "TIME", "(UTC)", "SOURCE", "DEVICE", "REASON"]
    assert len(table) == 3
    assert table[1].split()[3:5] == ["http", "aq-031"]
    assert "device aq-031 is not provisioned" in table[1]
    assert "the measures are not valid JSON" in table[2]
    assert all(len(line.split("aq-031", 1)[1].strip()) <= 60 for line in table[1:])
    letters = json.loads(ok(*base, "dead-letters", "list", "--json"))
    assert letters["count"] == 2
    unprovisioned, garbled = (d["id"] for d in letters["deadLetters"])
    assert ok(*base, "dead-letters", "list", "--device", "aq-999") == "no dead letters\n"

    counts = ok(*base, "dead-letters", "counts").splitlines()
    assert counts[1].split() == ["aq-031", "BadRequestData", "1"]
    assert counts[2].split() == ["aq-031", "ResourceNotFound", "1"]
    assert counts[-1] == "total: 2"
    assert json.loads(ok(*base, "dead-letters", "counts", "--json")) == [
        {"device_id": "aq-031", "error": "BadRequestData", "count": 1},
        {"device_id": "aq-031", "error": "ResourceNotFound", "count": 1},
    ]
    shown = ok(*base, "dead-letters", "show", str(garbled))
    assert "error:        BadRequestData" in shown
    assert shown.endswith("payload:\np10 is 41\n")  # the raw payload, as received
    raw = json.loads(ok(*base, "dead-letters", "show", str(garbled), "--json"))
    assert raw["payload"] == {"text": "p10 is 41"} and raw["id"] == garbled

    # replayed before the fix: refused again, saying why (and kept as a new dead letter)
    again = cli(*base, "dead-letters", "replay", str(unprovisioned))
    assert again.exit_code == 1
    assert "replayed 1 dead letter: 0 taken, 1 failed again" in again.stdout
    assert f"{unprovisioned} (aq-031): device aq-031 is not provisioned" in again.stdout
    assert json.loads(ok(*base, "dead-letters", "list", "--json"))["count"] == 2

    # fix the cause, replay everything: the measure reaches the entity, the garbled one stays
    ok(*base, "devices", "add", "-", input=json.dumps(DEVICE))
    replay = cli(*base, "dead-letters", "replay", "--all", "--json")
    assert replay.exit_code == 1
    outcome = json.loads(replay.stdout)
    assert len(outcome["taken"]) == 1 and [f["id"] for f in outcome["failed"]] == [garbled]
    assert "not valid JSON" in outcome["failed"][0]["reason"]
    r = httpx.get(
        f"{hub.url}/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:gw-031",
        params={"options": "keyValues"},
        headers={"NGSILD-Tenant": tenant},
    )
    assert r.status_code == 200, r.text
    assert r.json()["pm10"] == 41

    left = json.loads(ok(*base, "dead-letters", "list", "--json"))["deadLetters"]
    assert len(left) == 1 and left[0]["reason"].startswith("the measures are not valid JSON")
    fails(*base, "dead-letters", "discard", "999999", message="no dead letter 999999")
    aborted = cli(*base, "dead-letters", "discard", "--all", "--device", "aq-031", input="n\n")
    assert aborted.exit_code == 1 and "Aborted" in aborted.stderr
    assert "discard 1 dead letter of device aq-031?" in aborted.stdout
    assert ok(*base, "dead-letters", "discard", "--all", "--yes") == "discarded 1 dead letter\n"
    assert ok(*base, "dead-letters", "list") == "no dead letters\n"
    assert ok(*base, "dead-letters", "replay", "--all") == "no dead letters to replay\n"
    fails(*base, "dead-letters", "show", str(garbled), message=f"no dead letter {garbled}")


def test_discard_by_id(hub: Server, tenant: str) -> None:
    base = ("iot", "--url", hub.url, "--service", tenant)
    ok(*base, "services", "add", "-", input=json.dumps([GROUP]))
    for payload in (b"{", b"[", b"{]"):
        assert send(hub, tenant, "aq-040", payload).status_code == 400
    ids = [d["id"] for d in json.loads(ok(*base, "dead-letters", "list", "--json"))["deadLetters"]]
    assert len(ids) == 3
    assert ok(*base, "dead-letters", "discard", str(ids[0]), str(ids[2])) == (
        "discarded 2 dead letters\n"
    )
    left = json.loads(ok(*base, "dead-letters", "list", "--json"))["deadLetters"]
    assert [d["id"] for d in left] == [ids[1]]


@pytest.mark.parametrize(
    "args",
    [
        ("replay",),
        ("replay", "1", "--all"),
        ("discard", "1", "--device", "aq-031"),
        ("show", "abc"),
    ],
)
def test_wrong_usage_is_a_usage_error(hub: Server, args: tuple[str, ...]) -> None:
    result = cli("iot", "--url", hub.url, "dead-letters", *args)
    assert result.exit_code == 2 and "Usage:" in result.stderr


def test_hub_errors_are_one_line(hub: Server, tenant: str) -> None:
    base = ("iot", "--url", hub.url, "--service", tenant)
    body = json.dumps(GROUP)
    ok(*base, "services", "add", "-", input=body)
    fails(*base, "services", "add", "-", input=body, message="already exists")
    fails(
        *base,
        "services",
        "remove",
        "--apikey",
        "k-air",
        "--resource",
        "/iot/d",
        message="error: no service group with apikey k-air and resource /iot/d",
    )
    bad = json.dumps({"device_id": "a b"})
    fails(*base, "devices", "add", "-", input=bad, message="use letters, digits")
    fails(*base, "--service-path", "air", "services", "list", message="must start with /")
    fails(*base, "devices", "remove", "nope", message="error: no device nope")


def test_an_unreachable_hub_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    fails("iot", "--url", url, "devices", "list", message=f"cannot reach the hub at {url}")
    fails("iot", "--url", "hub.example", "devices", "list", message="bad hub URL 'hub.example'")
    monkeypatch.setenv("CITYHUB_URL", url)
    fails("iot", "dead-letters", "counts", message=f"cannot reach the hub at {url}")


def test_the_url_comes_from_cityhub_url(hub: Server, tenant: str) -> None:
    result = cli("iot", "--service", tenant, "devices", "list", env={"CITYHUB_URL": hub.url})
    assert result.exit_code == 0 and result.stdout == "no devices\n", result.stderr


@pytest.mark.parametrize(
    ("command", "content", "message"),
    [
        ("services", "{not json", "is not valid JSON"),
        ("services", "", "is not valid JSON"),
        ("services", "[1, 2]", "service group 1 is not a JSON object"),
        ("services", '"k-air"', 'must hold {"services": [...]}'),
        ("services", '{"services": []}', '"services" must be a non-empty array'),
        ("services", '{"devices": [{"device_id": "d"}]}', "use `cityhub iot devices add`"),
        ("devices", '{"devices": {"device_id": "d"}}', '"devices" must be a non-empty array'),
        ("devices", '{"services": [{"apikey": "k"}]}', "use `cityhub iot services add`"),
    ],
)
def test_a_malformed_file_is_refused_before_any_request(
    tmp_path: Path, command: str, content: str, message: str
) -> None:
    source = tmp_path / "in.json"
    source.write_text(content, encoding="utf-8")
    # a hub that cannot be reached: the error is about the file, so nothing was sent
    url = f"http://127.0.0.1:{free_port()}"
    fails("iot", "--url", url, command, "add", str(source), message=message)
    fails("iot", "--url", url, command, "add", "-", input=content, message=message)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    fails("iot", "services", "add", str(missing), message=f"cannot read {missing}")
