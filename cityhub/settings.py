"""Settings declared as data: name, type, default, help.

Sources, later ones winning: defaults, a TOML file (``--config`` / ``CITYHUB_CONFIG``, keys as
the setting names), environment variables ``CITYHUB_<NAME>``, command-line flags. Read once
(by the CLI or a test) into a frozen :class:`Settings` and handed to ``create_app``; no module
reads the environment at import time. ``docs/configuration.md`` is generated from
:data:`SETTINGS` (``cityhub settings --markdown``) and a test keeps it current.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cityhub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting's declaration."""

    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "Address to listen on."),
    Setting("port", int, 1026, "HTTP port (1026 is the usual NGSI-LD broker port)."),
    Setting(
        "data_dir",
        str,
        "./cityhub-data",
        "Directory for the embedded SQLite database and other local state.",
    ),
    Setting(
        "database",
        str,
        "",
        "Database URL: sqlite:///path/to.db or postgresql://user@host/db. "
        "Empty means sqlite in data_dir.",
    ),
    Setting("workers", int, 1, "Number of server worker processes."),
    Setting(
        "gc_threshold",
        int,
        50_000,
        "Objects a server process allocates between two collections of Python's youngest "
        "garbage generation (Python's own default is 700); the objects made at start-up are "
        "left out of collections. Higher values spend less time collecting under heavy "
        "writes (1.5x the batch throughput at the default) for a little more memory; 0 "
        "keeps Python's defaults.",
    ),
    Setting(
        "sqlite_synchronous",
        str,
        "FULL",
        "SQLite synchronous mode: FULL (every acknowledged write survives power loss) "
        "or NORMAL (survives a crash of cityhub, faster).",
    ),
    Setting("sqlite_readers", int, 4, "SQLite reader threads."),
    Setting("pg_pool_size", int, 10, "PostgreSQL connections per worker."),
    Setting("max_body_bytes", int, 4 * 1024 * 1024, "Largest request body accepted."),
    Setting("max_limit", int, 1000, "Largest page size a query may ask for (limit)."),
    Setting("default_limit", int, 20, "Page size when a query gives no limit."),
    Setting("context_timeout", float, 5.0, "Seconds to wait for a remote @context."),
    Setting("context_max_bytes", int, 1024 * 1024, "Largest remote @context accepted."),
    Setting("log_level", str, "info", "Log level: debug, info, warning, error."),
    Setting(
        "notify_timeout",
        float,
        10.0,
        "Seconds a notification may take (HTTP request or MQTT publish) before the attempt "
        "counts as failed.",
    ),
    Setting(
        "notify_max_attempts",
        int,
        12,
        "Attempts to deliver a notification before it becomes a dead letter "
        "(listed at /cityhub/v1/dead-letters).",
    ),
    Setting(
        "notify_concurrency",
        int,
        64,
        "Notifications a worker sends at once (at most 8 to one endpoint, 1 per subscription).",
    ),
    Setting(
        "notify_backoff_max",
        float,
        300.0,
        "Longest pause in seconds between two attempts of a notification (pauses double "
        "from 1 s, with jitter).",
    ),
    Setting(
        "temporal_retention_days",
        int,
        0,
        "Days of attribute history the temporal API keeps (instances older than this, by "
        "observedAt, are pruned hourly); 0 keeps everything.",
    ),
    Setting(
        "mqtt_url",
        str,
        "",
        "MQTT broker to take device measures from (mqtt://user:password@host:1883, mqtts:// "
        "for TLS); empty: no MQTT ingest.",
    ),
    Setting(
        "mqtt_client_id",
        str,
        "cityhub-ingest",
        "Client id of the MQTT ingest session; the broker keeps unacknowledged messages for it "
        "while cityhub is down.",
    ),
    Setting(
        "temporal_max_instances",
        int,
        1000,
        "Most instances per attribute in one temporal response; a longer history is cut "
        "(206 Partial Content with a Content-Range header).",
    ),
    Setting(
        "auth",
        str,
        "on",
        "on: every API call needs a login, token or API key (see docs/security.md); off: no "
        "checks, for local development and conformance testing, refused unless host is a "
        "loopback address.",
    ),
    Setting(
        "public_types",
        str,
        "",
        "Entity types anyone may read without logging in (comma-separated, e.g. open "
        "datasets: OffStreetParking,AirQualityObserved); empty: none.",
    ),
    Setting("token_ttl_s", int, 43200, "Seconds a login token (and session cookie) is valid."),
    Setting(
        "oidc_issuer",
        str,
        "",
        "OpenID Connect issuer whose JWTs are accepted as bearer tokens (e.g. "
        "https://sso.city.go.kr/realms/city for Keycloak); empty: none.",
    ),
    Setting("oidc_audience", str, "cityhub", "The aud the provider's tokens must carry."),
    Setting(
        "oidc_client_id",
        str,
        "cityhub",
        "cityhub's client id at the provider, for browser sign-in (/cityhub/v1/auth/oidc/login).",
    ),
    Setting(
        "oidc_client_secret",
        str,
        "",
        "cityhub's client secret at the provider (empty: a public client, PKCE only).",
    ),
    Setting(
        "oidc_roles_claim",
        str,
        "realm_access.roles",
        "Claim (dotted path) listing the user's roles: role@tenant, role@* or role.",
    ),
    Setting(
        "outbound_allow",
        str,
        "",
        "Hosts or networks (comma-separated, e.g. 10.0.5.0/24,cctv.city.local) that "
        "notification and @context URLs may reach although they are internal; other private, "
        "loopback and link-local addresses are refused (loopback is allowed when auth is off).",
    ),
    Setting(
        "rate_limit_per_s",
        float,
        100.0,
        "Requests per second one API key, user or client address may make on average; "
        "0 disables rate limiting.",
    ),
    Setting("rate_limit_burst", int, 400, "Requests one client may make at once above the rate."),
    Setting(
        "interwork_ok_code",
        str,
        "0",
        "The result code /api/getAuth.json and /linkHttp/recvEvent.json answer on success "
        "(the integrated platform's interworking code).",
    ),
    Setting("interwork_fail_code", str, "1", "The result code they answer on a refusal."),
    Setting(
        "interwork_session_hours",
        int,
        24,
        "Hours an interworking session key (from /api/getAuth.json) stays valid.",
    ),
    Setting(
        "event_auto_end_minutes",
        int,
        120,
        "Minutes an open event may go without a new occurrence before it ends by itself "
        "(completed, status code 91).",
    ),
    Setting(
        "event_escalate_minutes",
        int,
        10,
        "Minutes an event may stay unacknowledged before it is escalated (severity raised).",
    ),
    Setting(
        "sms_gateway",
        str,
        "log",
        "Where SOP steps send SMS: log (no real SMS; one JSON line per message in "
        "data_dir/sms.jsonl, and a log line) or an http(s):// URL that gets a POST of "
        '{"to": [numbers], "text"} (checked like other outbound URLs, see outbound_allow).',
    ),
    Setting(
        "linked_grant_minutes",
        float,
        60.0,
        "Minutes a video share granted to an agency by a linked-service request lasts, unless "
        "the request asks for less.",
    ),
    Setting(
        "dispatch_speed_kmh",
        float,
        30.0,
        "Average speed of a fire engine in town, for the travel time of a 119 dispatch route.",
    ),
    Setting(
        "dispatch_hydrant_m",
        float,
        30.0,
        "Metres from a 119 dispatch route within which fire hydrants are listed along it.",
    ),
    Setting(
        "dispatch_parked_m",
        float,
        15.0,
        "Metres from a 119 dispatch route within which illegally parked vehicles are listed.",
    ),
    Setting(
        "kpi_answer_target_s",
        float,
        60.0,
        "Seconds within which a linked-service request should be acknowledged (center KPI).",
    ),
    Setting(
        "kpi_dispatch_target_minutes",
        float,
        7.0,
        "Minutes within which a 119 unit should reach the scene (center KPI; the Daejeon "
        "pilot measured the share of dispatches within 7 minutes).",
    ),
    Setting(
        "parking_grace_minutes",
        float,
        5.0,
        "Illegal-parking enforcement: minutes between the first and the second sighting of a "
        "plate in the same zone that make a violation (at least; a zone's graceMinutes wins).",
    ),
    Setting(
        "parking_case_expiry_minutes",
        float,
        30.0,
        "Enforcement: a plate not seen in its zone for longer than this starts a new case (it "
        "may have left and come back).",
    ),
    Setting(
        "parking_same_spot_m",
        float,
        20.0,
        "Enforcement: a second sighting farther than this from the first (in the same zone) "
        "means the car moved; the case starts again from it.",
    ),
    Setting(
        "parking_notice_immediate",
        bool,
        False,
        "Enforcement: also send the SMS notice for violations in immediate-enforcement zones "
        "(hydrant, crosswalk, bus stop, corner, ...), where one sighting is a violation.",
    ),
    Setting(
        "parking_notice_lot_m",
        float,
        1000.0,
        "Enforcement: the pre-notice names the nearest parking lot with free spaces within "
        "this many metres.",
    ),
    Setting(
        "parking_hydrant_m",
        float,
        5.0,
        "Enforcement: metres around a fire hydrant or fire facility where parking is enforced "
        "at once (Road Traffic Act: 5 m).",
    ),
    Setting(
        "parking_bus_stop_m",
        float,
        10.0,
        "Enforcement: metres around a bus-stop sign enforced at once (Road Traffic Act: 10 m).",
    ),
    Setting(
        "parking_crosswalk_m",
        float,
        10.0,
        "Enforcement: metres around a crosswalk or safety zone drawn as a point, enforced at "
        "once (Road Traffic Act: 10 m).",
    ),
    Setting(
        "parking_corner_m",
        float,
        5.0,
        "Enforcement: metres around a road corner or intersection edge drawn as a point, "
        "enforced at once (Road Traffic Act: 5 m).",
    ),
    Setting(
        "parking_zone_features",
        str,
        "FireHydrant=hydrant,BusStop=busStop",
        "Enforcement: entity types whose Point locations are immediate-enforcement zones, as "
        "Type=category pairs (the category gives the distance); empty: only EnforcementZone "
        "entities.",
    ),
    Setting(
        "parking_fine_krw",
        int,
        40000,
        "Enforcement: the fine of a violation, in won (passenger car).",
    ),
    Setting(
        "parking_fine_fire_krw",
        int,
        80000,
        "Enforcement: the fine by a fire hydrant or fire facility, in won.",
    ),
    Setting(
        "parking_school_factor",
        float,
        3.0,
        "Enforcement: the fine in a school zone (어린이보호구역) is the fine times this.",
    ),
    Setting(
        "parking_event_categories",
        str,
        "hydrant,fireFacility",
        "Enforcement: zone categories whose violations also raise a situation event for the "
        "operations center (TRF0105); empty: none.",
    ),
    Setting(
        "air_alert_basis",
        str,
        "mean",
        "Fine-dust alerts (주의보/경보): a district's hourly PM value from its stations' hourly "
        "averages: mean (their average) or max (the worst station: one station over the "
        "threshold is enough).",
    ),
    Setting(
        "air_pm_min_hours",
        int,
        12,
        "Air quality: hours with PM values (of the last 24) a station needs for its 24-hour PM "
        "average and so its PM sub-indices (1-24); with fewer, its CAI leaves PM out.",
    ),
    Setting(
        "demo_seed",
        int,
        0,
        "Seed of the demo city written into the default tenant on the first start (0: none; "
        "`cityhub demo` sets it).",
    ),
    Setting(
        "forward_url",
        str,
        "",
        "Base URL of an external integrated platform to forward situation events to (it "
        "serves /api/getAuth.json and /linkHttp/recvEvent.json); empty: forward nothing.",
    ),
    Setting(
        "forward_api_key",
        str,
        "",
        "The apiKey cityhub sends to that platform's /api/getAuth.json.",
    ),
    Setting(
        "forward_send_code",
        str,
        "B0000000000",
        "cityhub's city code (sendCd) in forwarded messages, e.g. B4113000000.",
    ),
    Setting(
        "forward_max_attempts",
        int,
        20,
        "Attempts to forward one event message before it is kept as a dead letter.",
    ),
    Setting(
        "facility_alarm_grade",
        str,
        "C",
        "Facility safety: a drop of a facility's data safety grade to this grade or worse "
        "(B, C, D or E) raises a situation event; a rise above it clears the event.",
    ),
    Setting(
        "care_119_agency",
        str,
        "fire119",
        "Care alerts: the agency account (119 fire/EMS) that an elderly household's emergency "
        "is filed for as a 119 linked-service request; the nearest cameras are shared with it.",
    ),
    Setting(
        "care_missing_agency",
        str,
        "police112",
        "Care alerts: the agency account the cameras near a missing child or dementia patient "
        "are shared with when the center's staff file the report (an agency filing shares with "
        "itself).",
    ),
    Setting(
        "care_inactivity_hours",
        float,
        12.0,
        "Care alerts: hours without any activity (motion, door) in an elderly household before "
        "its emergency is filed; a household's inactivityHours wins.",
    ),
    Setting(
        "care_night_hours",
        str,
        "",
        "Care alerts: Seoul night hours not counted as inactivity, as HH-HH or HH:MM-HH:MM "
        "(e.g. 22-07); empty: every hour counts. A household's nightHours wins.",
    ),
    Setting(
        "care_temp_min",
        float,
        10.0,
        "Care alerts: indoor temperature (°C) below which an elderly household is too cold.",
    ),
    Setting(
        "care_temp_max",
        float,
        35.0,
        "Care alerts: indoor temperature (°C) above which an elderly household is too hot.",
    ),
    Setting(
        "care_temp_minutes",
        float,
        30.0,
        "Care alerts: minutes an indoor temperature must stay out of range before it is an "
        "emergency.",
    ),
    Setting(
        "care_offroute_m",
        float,
        100.0,
        "Safe way home: metres from the route beyond which a walker is off the route.",
    ),
    Setting(
        "care_walk_grace_minutes",
        float,
        10.0,
        "Safe way home: minutes after the expected arrival before a walk is overdue.",
    ),
    Setting(
        "map_tile_url",
        str,
        "",
        "Dashboard map: a raster tile URL template (https://tiles.example/{z}/{x}/{y}.png, or a "
        "path on this host); its origin is allowed in the page's Content-Security-Policy. "
        "Empty: no tiles, only the districts base layer shipped with cityhub (works offline).",
    ),
    Setting(
        "map_tile_attribution",
        str,
        "",
        "Dashboard map: the attribution text shown for those tiles (e.g. their licence).",
    ),
    Setting(
        "map_districts",
        str,
        "",
        "Dashboard map: a GeoJSON file of the city's districts (polygons with name and nameEn "
        "properties), the map's base layer; empty: the demo city shipped with cityhub.",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings in force, read once."""

    host: str = "127.0.0.1"
    port: int = 1026
    data_dir: str = "./cityhub-data"
    database: str = ""
    workers: int = 1
    gc_threshold: int = 50_000
    sqlite_synchronous: str = "FULL"
    sqlite_readers: int = 4
    pg_pool_size: int = 10
    max_body_bytes: int = 4 * 1024 * 1024
    max_limit: int = 1000
    default_limit: int = 20
    context_timeout: float = 5.0
    context_max_bytes: int = 1024 * 1024
    log_level: str = "info"
    notify_timeout: float = 10.0
    notify_max_attempts: int = 12
    notify_concurrency: int = 64
    notify_backoff_max: float = 300.0
    temporal_retention_days: int = 0
    temporal_max_instances: int = 1000
    mqtt_url: str = ""
    mqtt_client_id: str = "cityhub-ingest"
    auth: str = "on"
    public_types: str = ""
    token_ttl_s: int = 43200
    oidc_issuer: str = ""
    oidc_audience: str = "cityhub"
    oidc_client_id: str = "cityhub"
    oidc_client_secret: str = ""
    oidc_roles_claim: str = "realm_access.roles"
    outbound_allow: str = ""
    rate_limit_per_s: float = 100.0
    rate_limit_burst: int = 400
    interwork_ok_code: str = "0"
    interwork_fail_code: str = "1"
    interwork_session_hours: int = 24
    event_auto_end_minutes: int = 120
    event_escalate_minutes: int = 10
    sms_gateway: str = "log"
    linked_grant_minutes: float = 60.0
    dispatch_speed_kmh: float = 30.0
    dispatch_hydrant_m: float = 30.0
    dispatch_parked_m: float = 15.0
    kpi_answer_target_s: float = 60.0
    kpi_dispatch_target_minutes: float = 7.0
    parking_grace_minutes: float = 5.0
    parking_case_expiry_minutes: float = 30.0
    parking_same_spot_m: float = 20.0
    parking_notice_immediate: bool = False
    parking_notice_lot_m: float = 1000.0
    parking_hydrant_m: float = 5.0
    parking_bus_stop_m: float = 10.0
    parking_crosswalk_m: float = 10.0
    parking_corner_m: float = 5.0
    parking_zone_features: str = "FireHydrant=hydrant,BusStop=busStop"
    parking_fine_krw: int = 40000
    parking_fine_fire_krw: int = 80000
    parking_school_factor: float = 3.0
    parking_event_categories: str = "hydrant,fireFacility"
    air_alert_basis: str = "mean"
    air_pm_min_hours: int = 12
    demo_seed: int = 0
    forward_url: str = ""
    forward_api_key: str = ""
    forward_send_code: str = "B0000000000"
    forward_max_attempts: int = 20
    facility_alarm_grade: str = "C"
    care_119_agency: str = "fire119"
    care_missing_agency: str = "police112"
    care_inactivity_hours: float = 12.0
    care_night_hours: str = ""
    care_temp_min: float = 10.0
    care_temp_max: float = 35.0
    care_temp_minutes: float = 30.0
    care_offroute_m: float = 100.0
    care_walk_grace_minutes: float = 10.0
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    map_districts: str = ""

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database:
            return self.database
        return f"sqlite:///{Path(self.data_dir) / 'cityhub.db'}"


def _convert(setting: Setting, value: Any, source: str) -> Any:
    if isinstance(value, setting.type) and not isinstance(value, bool):
        return value
    try:
        if setting.type is bool:
            return str(value).lower() in ("1", "true", "yes", "on")
        return setting.type(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"{source}: {setting.name} must be a {setting.type.__name__}, got {value!r}"
        ) from err


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Merge defaults, TOML file, environment and explicit overrides into Settings."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    path = config_file or env.get("CITYHUB_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as err:
            raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {path} is not valid TOML: {err}") from err
        for key, value in data.items():
            setting = _BY_NAME.get(key.replace("-", "_"))
            if setting is None:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[setting.name] = _convert(setting, value, path)
    for setting in SETTINGS:
        raw = env.get("CITYHUB_" + setting.name.upper())
        if raw is not None and raw != "":
            values[setting.name] = _convert(setting, raw, "CITYHUB_" + setting.name.upper())
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        setting = _BY_NAME[key]
        values[key] = _convert(setting, value, "--" + key.replace("_", "-"))
    settings = Settings(**values)
    check_settings(settings)
    return settings


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_settings(settings: Settings) -> None:
    """ConfigError for settings that cannot go together."""
    if settings.gc_threshold < 0:
        raise ConfigError(f"gc_threshold must be 0 or more, not {settings.gc_threshold}")
    if settings.auth not in ("on", "off"):
        raise ConfigError(f"auth must be on or off, not {settings.auth!r}")
    if (
        settings.auth == "off"
        and settings.host not in _LOOPBACK
        and not settings.host.startswith("127.")
    ):
        raise ConfigError(
            f"auth off is allowed only on a loopback address (host 127.0.0.1 or ::1), not "
            f"{settings.host}: anyone who can reach the port could read and change everything"
        )


def settings_markdown() -> str:
    """The configuration reference (docs/configuration.md)."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given as a command-line flag (`--name`), an environment variable",
        "(`CITYHUB_NAME`) or a key in a TOML file passed with `--config` (or `CITYHUB_CONFIG`).",
        "Flags win over the environment, which wins over the file.",
        "",
        "| setting | environment | default | meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        lines.append(f"| `{s.name}` | `CITYHUB_{s.name.upper()}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"


assert {f.name for f in fields(Settings)} == set(_BY_NAME), "Settings and SETTINGS disagree"
