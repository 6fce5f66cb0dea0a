"""What illegal-parking enforcement reads and writes: a camera's sighting of a plate (parsed
from the API form, BadRequestData naming the member), number plates and their masked form, and
the times of sightings (UTC NGSI-LD DateTimes, compared as text and as datetimes).

A sighting: ``{"plate": "12가3456", "at": "2026-11-16T10:00:00+09:00",
"location": {"type": "Point", "coordinates": [lon, lat]}, "camera": {"id": "bus-0412",
"kind": "bus"}}``; ``kind`` is ``fixed`` (a pole camera), ``bus`` (mounted on a city bus) or
``mobile`` (an enforcement car or an officer's handset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.errors import BadRequestData

CAMERA_KINDS = ("fixed", "bus", "mobile")
MAX_BATCH = 1000
#: how far ahead of the hub's clock a sighting may be (camera clocks drift)
FUTURE_SLACK = timedelta(minutes=5)
_SIGHTING_KEYS = {"plate", "at", "location", "camera"}
_PLATE = re.compile(r"^[0-9A-Z가-힣]{4,16}$")
_DROP = re.compile(r"[\s\-.·]")
_CAMERA_ID = re.compile(r"^[^\x00-\x1f]{1,128}$")


def normalise_plate(raw: Any, where: str = "plate") -> str:
    """A number plate without spaces or hyphens, Latin letters upper case (12가3456)."""
    if not isinstance(raw, str):
        raise BadRequestData(f"{where} must be a number plate like 12가3456")
    plate = _DROP.sub("", raw).upper()
    if not _PLATE.match(plate) or not any(c.isdigit() for c in plate):
        raise BadRequestData(
            f"{where} must be a number plate like 12가3456 (4-16 Hangul letters, Latin "
            f"letters and digits), not {raw!r}"
        )
    return plate


def mask_plate(plate: str) -> str:
    """The plate with the middle of its serial hidden: 12가3456 → 12가**56."""
    head = len(plate.rstrip("0123456789"))
    serial = plate[head:]
    if head and len(serial) >= 4:
        return plate[:head] + "*" * (len(serial) - 2) + serial[-2:]
    return plate[:2] + "*" * max(len(plate) - 4, 1) + plate[-2:]


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def when(text: str) -> datetime:
    """The datetime of a stored NGSI-LD DateTime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_time(raw: Any, where: str) -> datetime:
    """An ISO 8601 date-time with a time zone (BadRequestData otherwise)."""
    if not isinstance(raw, str):
        raise BadRequestData(f"{where} must be an ISO 8601 date-time with a time zone")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise BadRequestData(f"{where} must be an ISO 8601 date-time, not {raw!r}") from err
    if moment.tzinfo is None:
        raise BadRequestData(f"{where} needs a time zone (Z or an offset like +09:00): {raw!r}")
    return moment.astimezone(UTC)


def parse_point(raw: Any, where: str) -> tuple[float, float]:
    """(lon, lat) of a GeoJSON Point."""
    coords = raw.get("coordinates") if isinstance(raw, dict) else None
    if (
        not isinstance(raw, dict)
        or raw.get("type") != "Point"
        or not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    ):
        raise BadRequestData(f'{where} must be a GeoJSON Point {{"type": "Point", ...}}')
    lon, lat = float(coords[0]), float(coords[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData(f"{where} coordinates are out of range (longitude, latitude)")
    return lon, lat


@dataclass(frozen=True, slots=True)
class Camera:
    """The camera that saw a plate."""

    id: str
    kind: str

    def json(self) -> dict[str, str]:
        """The API form."""
        return {"id": self.id, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Sighting:
    """One capture of a plate by an enforcement camera."""

    plate: str
    moment: datetime  # UTC
    lon: float
    lat: float
    camera: Camera

    @property
    def at(self) -> str:
        """When, as stored (UTC, milliseconds)."""
        return iso(self.moment)

    @classmethod
    def from_json(cls, body: Any, now: datetime, where: str = "") -> Sighting:
        """From the API form; BadRequestData names the member (``sightings[2].camera.kind``)."""
        prefix = f"{where}." if where else ""
        if not isinstance(body, dict):
            raise BadRequestData(
                f"{where or 'a sighting'} must be an object with plate, at, location and camera"
            )
        unknown = sorted(set(body) - _SIGHTING_KEYS)
        if unknown:
            raise BadRequestData(
                f"{where or 'the sighting'} has unknown members: {', '.join(unknown)}"
            )
        for key in ("plate", "at", "location", "camera"):
            if key not in body:
                raise BadRequestData(f"{prefix}{key} is missing")
        plate = normalise_plate(body["plate"], f"{prefix}plate")
        moment = parse_time(body["at"], f"{prefix}at")
        if moment > now + FUTURE_SLACK:
            raise BadRequestData(f"{prefix}at is in the future: {body['at']}")
        lon, lat = parse_point(body["location"], f"{prefix}location")
        camera = body["camera"]
        if not isinstance(camera, dict) or set(camera) - {"id", "kind"}:
            raise BadRequestData(f'{prefix}camera must be {{"id", "kind"}}')
        ident = camera.get("id")
        if not isinstance(ident, str) or not ident.strip() or not _CAMERA_ID.match(ident):
            raise BadRequestData(f"{prefix}camera.id must be a text of 1-128 characters")
        kind = camera.get("kind")
        if kind not in CAMERA_KINDS:
            raise BadRequestData(
                f"{prefix}camera.kind must be one of {', '.join(CAMERA_KINDS)}, not {kind!r}"
            )
        return cls(plate, moment, lon, lat, Camera(ident.strip(), kind))


def parse_sightings(body: Any, now: datetime) -> tuple[list[Sighting], bool]:
    """Sightings from one object or a list of them (all checked before any is used); and
    whether a single object was sent."""
    if isinstance(body, list):
        if not body or len(body) > MAX_BATCH:
            raise BadRequestData(f"send 1 to {MAX_BATCH} sightings in a list")
        return [Sighting.from_json(b, now, f"sightings[{i}]") for i, b in enumerate(body)], False
    return [Sighting.from_json(body, now)], True
