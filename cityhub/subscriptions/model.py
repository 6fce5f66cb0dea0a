"""NGSI-LD Subscription objects: validation, the stored form, and the compiled matcher form.

A subscription is stored as the client sent it (``raw``: terms as given, without ``@context``),
plus what is needed to use it without the client's @context at hand: the extra term
definitions of that context (``terms``, so notifications are compacted as the client expects,
even after a restart with the remote context unreachable) and the q terms' expansions.
:func:`compile_subscription` turns the stored form into a :class:`Subscription` the matcher
tests changes against (ETSI GS CIM 009 V1.8.1 clauses 5.2.12, 5.8, 5.11).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.guard.outbound import OutboundRefused, Resolve, check_outbound
from cityhub.ngsild import geo
from cityhub.ngsild import query as qlang
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.filters import EntityQuery, TypeExpr, parse_scope_q, parse_type_expr
from cityhub.ngsild.models import check_datetime, check_entity_id, is_uri
from cityhub.ngsild.render import CONCISE, KEY_VALUES, NORMALIZED
from cityhub.settings import Settings
from cityhub.subscriptions.mqtt import MqttDeliveryError, parse_endpoint

TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")
FORMATS = {"normalized": NORMALIZED, "keyValues": KEY_VALUES, "concise": CONCISE}
ACCEPTS = ("application/json", "application/ld+json")
ENDPOINT_SCHEMES = ("http", "https", "mqtt", "mqtts")
#: members the broker keeps (status) and never takes from a client
READ_ONLY = ("status", "createdAt", "modifiedAt")
NOTIFICATION_READ_ONLY = (
    "timesSent",
    "timesFailed",
    "lastNotification",
    "lastFailure",
    "lastSuccess",
    "status",
)
_KNOWN = {
    "id",
    "type",
    "subscriptionName",
    "description",
    "entities",
    "watchedAttributes",
    "notificationTrigger",
    "timeInterval",
    "q",
    "geoQ",
    "csf",
    "isActive",
    "notification",
    "expiresAt",
    "throttling",
    "temporalQ",
    "scopeQ",
    "lang",
    "jsonldContext",
    "@context",
    *READ_ONLY,
}


@dataclass(slots=True)
class Selector:
    """One EntitySelector: id, idPattern and type must all hold when given."""

    id: str | None
    pattern: re.Pattern[str] | None
    types: TypeExpr | None


@dataclass(slots=True)
class Subscription:
    """A subscription compiled for matching and rendering."""

    tenant: str
    id: str
    raw: dict[str, Any]
    ctx: ActiveContext
    selectors: list[Selector]
    watched: frozenset[str] | None
    triggers: frozenset[str]
    filter: EntityQuery  # q, geoQ, scopeQ: tested on the entity the change left
    attrs: frozenset[str] | None  # notification.attributes (expanded)
    fmt: str
    sys_attrs: bool
    show_changes: bool
    lang: str | None
    endpoint: dict[str, Any]
    time_interval: float | None
    throttling: float | None
    expires_at: datetime | None
    is_active: bool
    created_at: str
    modified_at: str
    since_seq: int = 0  # changes logged before the subscription existed are not its business
    extra: dict[str, Any] = field(default_factory=dict)

    def live(self, now: datetime) -> bool:
        """Active and not expired."""
        return self.is_active and (self.expires_at is None or self.expires_at > now)

    def status(self, now: datetime) -> str:
        """``active``, ``paused`` or ``expired`` (clause 5.2.12)."""
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active" if self.is_active else "paused"


def new_subscription_id() -> str:
    """A fresh subscription id."""
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def parse_time(value: str) -> datetime:
    """An NGSI-LD DateTime as an aware datetime (UTC when no zone is given)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validate(body: Any, *, partial: bool = False, expired_ok: bool = False) -> dict[str, Any]:
    """Check a Subscription (or, ``partial``, a fragment for PATCH, where a null member
    stands for its removal); returns it without ``@context`` and read-only members.
    ``expired_ok``: an ``expiresAt`` in the past is allowed. Raises BadRequestData naming the
    bad member."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    members = {k: v for k, v in body.items() if k not in ("@context", *READ_ONLY)}
    nulls = sorted(k for k, v in members.items() if v is None)
    if nulls and not partial:
        raise BadRequestData(f"{', '.join(nulls)} cannot be null")
    raw = {k: v for k, v in members.items() if v is not None}
    unknown = sorted(set(members) - _KNOWN)
    if unknown:
        raise BadRequestData(f"unknown subscription member(s): {', '.join(unknown)}")
    if not partial:
        if raw.get("type") != "Subscription":
            raise BadRequestData('a subscription needs "type": "Subscription"')
    elif "type" in raw and raw["type"] != "Subscription":
        raise BadRequestData('type must be "Subscription"')
    if "id" in raw:
        if partial:
            raise BadRequestData("the id of a subscription cannot be changed")
        check_entity_id(raw["id"])
    for name in ("subscriptionName", "description", "q", "scopeQ", "lang", "csf"):
        if name in raw and not isinstance(raw[name], str):
            raise BadRequestData(f"{name} must be a string")
    if "entities" in raw:
        _check_selectors(raw["entities"])
    if "watchedAttributes" in raw:
        _check_names(raw["watchedAttributes"], "watchedAttributes")
    if "notificationTrigger" in raw:
        triggers = raw["notificationTrigger"]
        _check_names(triggers, "notificationTrigger")
        bad = [t for t in triggers if t not in TRIGGERS]
        if bad:
            raise BadRequestData(
                f"unknown notificationTrigger {', '.join(bad)}; use {', '.join(TRIGGERS)}"
            )
    for name in ("timeInterval", "throttling"):
        if name in raw:
            v = raw[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise BadRequestData(f"{name} must be a number of seconds greater than 0")
    if "isActive" in raw and not isinstance(raw["isActive"], bool):
        raise BadRequestData("isActive must be true or false")
    if "expiresAt" in raw:
        check_datetime(raw["expiresAt"], "expiresAt")
        if not partial and not expired_ok and parse_time(raw["expiresAt"]) <= datetime.now(UTC):
            raise BadRequestData("expiresAt is in the past")
    if "geoQ" in raw and not isinstance(raw["geoQ"], dict):
        raise BadRequestData("geoQ must be an object")
    if "temporalQ" in raw:
        raise BadRequestData("temporalQ in subscriptions is not supported")
    if "notification" in raw:
        _check_notification(raw["notification"], partial=partial)
        # the delivery status is the broker's to keep: what a client sends of it is dropped
        note = raw["notification"]
        raw["notification"] = {k: v for k, v in note.items() if k not in NOTIFICATION_READ_ONLY}
    elif not partial:
        raise BadRequestData("a subscription needs a notification member")
    if not partial and "entities" not in raw and "watchedAttributes" not in raw:
        raise BadRequestData("a subscription needs entities or watchedAttributes (or both)")
    if "timeInterval" in raw and ("watchedAttributes" in raw or "throttling" in raw):
        raise BadRequestData("timeInterval cannot be combined with watchedAttributes/throttling")
    # PATCH (JSON merge patch): a null removes the member
    return {**raw, **dict.fromkeys(nulls)}


def _check_names(value: Any, what: str) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequestData(f"{what} must be a non-empty array of strings")


def _check_selectors(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise BadRequestData("entities must be a non-empty array of EntitySelector objects")
    for sel in value:
        if not isinstance(sel, dict):
            raise BadRequestData("each EntitySelector must be an object")
        if "type" not in sel:
            raise BadRequestData("each EntitySelector needs a type")
        for member in ("type", "idPattern"):
            if member in sel and not isinstance(sel[member], str):
                raise BadRequestData(f"EntitySelector {member} must be a string")
        if "id" in sel:
            check_entity_id(sel["id"])
        if "idPattern" in sel:
            _regex(sel["idPattern"])


def _check_notification(value: Any, *, partial: bool) -> None:
    if not isinstance(value, dict):
        raise BadRequestData("notification must be an object")
    nulls = sorted(k for k, v in value.items() if v is None)
    if nulls and not partial:
        raise BadRequestData(f"notification.{', notification.'.join(nulls)} cannot be null")
    value = {k: v for k, v in value.items() if v is not None}  # PATCH: removed members
    if "attributes" in value:
        _check_names(value["attributes"], "notification.attributes")
    if "format" in value and value["format"] not in FORMATS:
        raise BadRequestData(f"notification.format must be one of {', '.join(FORMATS)}")
    for flag in ("showChanges", "sysAttrs"):
        if flag in value and not isinstance(value[flag], bool):
            raise BadRequestData(f"notification.{flag} must be true or false")
    endpoint = value.get("endpoint")
    if endpoint is None:
        if not partial:
            raise BadRequestData("notification needs an endpoint")
        return
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise BadRequestData("notification.endpoint needs a uri")
    uri = endpoint["uri"]
    scheme = uri.split(":", 1)[0].lower()
    if not is_uri(uri) or scheme not in ENDPOINT_SCHEMES or "//" not in uri:
        raise BadRequestData(
            f"notification.endpoint.uri {uri!r} must be an http(s):// or mqtt(s):// URL"
        )
    if scheme.startswith("mqtt") and len(uri.split("//", 1)[1].split("/", 1)) < 2:
        raise BadRequestData("an MQTT endpoint needs a topic: mqtt://host[:port]/topic")
    if endpoint.get("accept", ACCEPTS[0]) not in ACCEPTS:
        raise BadRequestData(f"notification.endpoint.accept must be one of {', '.join(ACCEPTS)}")
    for member in ("receiverInfo", "notifierInfo"):
        info = endpoint.get(member)
        if info is None:
            continue
        if not isinstance(info, list) or not all(
            isinstance(kv, dict)
            and isinstance(kv.get("key"), str)
            and isinstance(kv.get("value"), str)
            for kv in info
        ):
            raise BadRequestData(f"endpoint.{member} must be an array of {{key, value}} strings")
    if scheme.startswith("mqtt"):
        try:  # refused now rather than failing every delivery until it is a dead letter
            parse_endpoint(uri, endpoint.get("notifierInfo"))
        except MqttDeliveryError as err:
            raise BadRequestData(f"notification.endpoint: {err}") from err


async def check_endpoint(
    raw: dict[str, Any], settings: Settings, *, resolve: Resolve | None = None
) -> None:
    """BadRequestData if the notification endpoint of a validated subscription is on an
    internal address (``cityhub/guard/outbound.py``): refused now rather than failing every
    delivery. A host name that does not resolve (yet) is accepted: every delivery checks its
    addresses again when it connects."""
    endpoint = (raw.get("notification") or {}).get("endpoint") or {}
    uri = endpoint.get("uri")
    if not isinstance(uri, str):
        return
    try:
        await check_outbound(uri, settings, resolve=resolve, unresolved_ok=True)
    except OutboundRefused as err:
        raise BadRequestData(f"notification.endpoint.uri: {err.detail}") from err


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise BadRequestData(f"idPattern is not a valid regular expression: {err}") from err


def merge_fragment(raw: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """PATCH: top-level members replace, ``notification`` members merge (clause 5.8.3); a
    null removes a member."""
    merged = dict(raw)
    for key, value in fragment.items():
        if value is None:
            merged.pop(key, None)
        elif key == "notification" and isinstance(raw.get("notification"), dict):
            note = {**raw["notification"], **value}
            merged["notification"] = {k: v for k, v in note.items() if v is not None}
        else:
            merged[key] = value
    return merged


def context_terms(ctx: ActiveContext, core: ActiveContext) -> dict[str, Any]:
    """What a stored subscription keeps of its @context: the terms the core lacks."""
    extra = {t: iri for t, iri in ctx.terms.items() if core.terms.get(t) != iri}
    return {
        "terms": extra,
        "vocabTerms": sorted(ctx.vocab_terms - core.vocab_terms),
        "vocab": ctx.vocab,
        "urls": list(ctx.urls),
    }


def restore_context(saved: dict[str, Any], core: ActiveContext) -> ActiveContext:
    """The ActiveContext :func:`context_terms` saved (core terms stay protected)."""
    if not saved.get("terms") and not saved.get("urls"):
        return core
    ctx = ActiveContext(
        terms={**saved.get("terms", {}), **core.terms},
        vocab_terms=set(saved.get("vocabTerms", ())) | core.vocab_terms,
        vocab=saved.get("vocab", core.vocab),
        urls=tuple(saved.get("urls", ())),
    )
    return ctx.finish()


def compile_subscription(
    tenant: str,
    raw: dict[str, Any],
    ctx: ActiveContext,
    created_at: str,
    modified_at: str,
    since_seq: int = 0,
) -> Subscription:
    """The matcher form of a validated subscription (BadRequestData on a bad q or geoQ)."""
    selectors = [
        Selector(
            sel.get("id"),
            _regex(sel["idPattern"]) if "idPattern" in sel else None,
            parse_type_expr(sel["type"], ctx) if "type" in sel else None,
        )
        for sel in raw.get("entities", [])
    ]
    watched = raw.get("watchedAttributes")
    filt = EntityQuery()
    if raw.get("q"):
        filt.q = qlang.parse_q(raw["q"], ctx.expand)
    if raw.get("scopeQ"):
        filt.scope_q = parse_scope_q(raw["scopeQ"])
    geo_q = raw.get("geoQ")
    if geo_q:
        prop = geo_q.get("geoproperty") or "location"
        if not isinstance(prop, str):
            raise BadRequestData("geoQ geoproperty must be an attribute name")
        filt.geo = geo.parse_geoquery(
            geo_q.get("georel"), geo_q.get("geometry"), geo_q.get("coordinates"), ctx.expand(prop)
        )
    note = raw["notification"]
    endpoint = note["endpoint"]
    attrs = note.get("attributes")
    expires = raw.get("expiresAt")
    return Subscription(
        tenant=tenant,
        id=raw["id"],
        raw=raw,
        ctx=ctx,
        selectors=selectors,
        watched=frozenset(ctx.expand(a) for a in watched) if watched else None,
        triggers=frozenset(raw.get("notificationTrigger") or DEFAULT_TRIGGERS),
        filter=filt,
        attrs=frozenset(ctx.expand(a) for a in attrs) if attrs else None,
        fmt=FORMATS[note.get("format", "normalized")],
        sys_attrs=bool(note.get("sysAttrs", False)),
        show_changes=bool(note.get("showChanges", False)),
        lang=raw.get("lang"),
        endpoint={
            "uri": endpoint["uri"],
            "accept": endpoint.get("accept", ACCEPTS[0]),
            "receiverInfo": endpoint.get("receiverInfo", []),
            "notifierInfo": endpoint.get("notifierInfo", []),
        },
        time_interval=raw.get("timeInterval"),
        throttling=raw.get("throttling"),
        expires_at=parse_time(expires) if expires else None,
        is_active=raw.get("isActive", True),
        created_at=created_at,
        modified_at=modified_at,
        since_seq=since_seq,
    )
