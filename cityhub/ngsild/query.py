"""The NGSI-LD query language: the ``q`` parameter (ETSI GS CIM 009, clause 4.9).

:func:`parse_q` turns a ``q`` string into a small immutable tree (:class:`And`, :class:`Or`,
:class:`Exists`, :class:`NotExists`, :class:`Compare`) whose attribute names are already
expanded, so storage backends can translate simple terms to SQL. :func:`matches` evaluates a tree
against the stored entity form of :mod:`cityhub.ngsild.entity`; it is the reference semantics
and the fallback for terms a backend cannot translate.

    q       = or
    or      = and *("|" and)                 ; AND binds tighter than OR
    and     = factor *(";" factor)
    factor  = "(" or ")" / "!" path / path [op value]
    path    = name *("." name) *("[" key "]") ; sub-attributes / metadata, then compound keys
    value   = scalar / scalar ".." scalar / scalar 1*("," scalar) / regex (after ~= and !~=)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn

from cityhub.errors import BadRequestData, CityhubError
from cityhub.ngsild.entity import (
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    Entity,
)

MAX_LENGTH = 8192
MAX_DEPTH = 64

#: instance members a path may end with instead of a sub-attribute (never expanded)
METADATA_MEMBERS = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})
EQUALITY_OPS = ("==", "!=")
PATTERN_OPS = ("~=", "!~=")
ORDER_OPS = (">", ">=", "<", "<=")
# longest first, so that ">=" is not read as ">"
_OPERATORS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_IRI_PREFIXES = ("http://", "https://", "urn:")
_ORDERING: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


@dataclass(frozen=True, slots=True)
class Path:
    """An attribute path: expanded attribute, sub-attributes (or a metadata member), keys."""

    attr: str
    sub: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def metadata(self) -> str | None:
        """The metadata member (``observedAt``...) the path ends with, if any."""
        return self.sub[-1] if self.sub and self.sub[-1] in METADATA_MEMBERS else None


@dataclass(frozen=True, slots=True)
class DateTimeLit:
    """An unquoted DateTime, Date or Time literal; ``dt`` is UTC-aware for DateTime and Time."""

    text: str
    dt: datetime | date | time


@dataclass(frozen=True, slots=True)
class Range:
    """``low..high``, both ends included."""

    low: Scalar
    high: Scalar


@dataclass(frozen=True, slots=True)
class ValueList:
    """``a,b,c``: equal to any of the items."""

    items: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression after ``~=`` / ``!~=`` (Python ``re`` syntax, ``(?i)`` allowed)."""

    source: str
    regex: re.Pattern[str] = field(compare=False, repr=False)


Scalar = bool | int | float | str | DateTimeLit
Value = Scalar | Range | ValueList | Pattern


@dataclass(frozen=True, slots=True)
class And:
    """All items hold (``;``)."""

    items: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any item holds (``|``)."""

    items: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    """The attribute, sub-attribute, metadata member or compound key is present."""

    path: Path


@dataclass(frozen=True, slots=True)
class NotExists:
    """``!attr``: the path is absent."""

    path: Path


@dataclass(frozen=True, slots=True)
class Compare:
    """``path op value``; ``vocab`` is ``value`` with strings expanded, for VocabProperty."""

    path: Path
    op: str
    value: Value
    vocab: Value | None = None


QExpr = And | Or | Exists | NotExists | Compare


def parse_q(text: str, expand: Callable[[str], str]) -> QExpr:
    """Parse a ``q`` string; raise :class:`BadRequestData` when it is malformed (5.7.2.4)."""
    if len(text) > MAX_LENGTH:
        raise BadRequestData(f"q is longer than {MAX_LENGTH} characters")
    return _Parser(text, expand).parse()


def parse_path(text: str, expand: Callable[[str], str]) -> Path:
    """One attribute path alone (``attr.sub[key]``, as in ``q``), e.g. for ``orderBy``."""
    parser = _Parser(text[:MAX_LENGTH], expand)
    path = parser.path()
    parser.skip_ws()
    if parser.peek():
        parser.fail(f"unexpected {parser.peek()!r} after an attribute path")
    return path


def path_values(path: Path, entity: Entity) -> list[Any]:
    """Every value a path reaches in a stored entity (array elements one by one)."""
    return [x for kind, value in _targets(path, entity) for x in _flat(kind, value)]


def attribute_names(expr: QExpr) -> set[str]:
    """The expanded top-level attribute names an expression refers to."""
    if isinstance(expr, And | Or):
        names: set[str] = set()
        for item in expr.items:
            names |= attribute_names(item)
        return names
    return {expr.path.attr}


def parse_temporal(text: str) -> datetime | date | time | None:
    """A DateTime, Date or Time string as a value (naive ones taken as UTC), else None."""
    try:
        if _DATETIME.fullmatch(text):
            value = datetime.fromisoformat(text)
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
        if _TIME.fullmatch(text):
            clock = time.fromisoformat(text)
            return clock if clock.tzinfo else clock.replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


class _Parser:
    """Recursive descent over the characters of one ``q`` string."""

    def __init__(self, text: str, expand: Callable[[str], str]) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.expand = expand

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        at = self.pos if at is None else at
        near = f"near {self.text[at : at + 24]!r}" if at < len(self.text) else "at end of q"
        raise BadRequestData(f"Invalid q: {message} at character {at + 1} ({near})")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, token: str) -> bool:
        self.skip_ws()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def parse(self) -> QExpr:
        self.skip_ws()
        if not self.peek():
            self.fail("empty query")
        expr = self.or_expr()
        self.skip_ws()
        if self.peek():
            self.fail(f"unexpected {self.peek()!r}")
        return expr

    def or_expr(self) -> QExpr:
        return self.chain("|", Or, self.and_expr)

    def and_expr(self) -> QExpr:
        return self.chain(";", And, self.factor)

    def chain(self, sep: str, node: type[And | Or], operand: Callable[[], QExpr]) -> QExpr:
        items = [operand()]
        while self.take(sep):
            items.append(operand())
        flat = [i for item in items for i in (item.items if type(item) is node else (item,))]
        return flat[0] if len(flat) == 1 else node(tuple(flat))

    def factor(self) -> QExpr:
        self.skip_ws()
        start = self.pos
        if self.take("("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"parentheses nested deeper than {MAX_DEPTH}", start)
            expr = self.or_expr()
            if not self.take(")"):
                self.fail("expected ')'")
            self.depth -= 1
            return expr
        if self.take("!"):
            path = self.path()
            if not self.at_term_end():
                self.fail("'!' can only negate an attribute name, not a comparison")
            return NotExists(path)
        path = self.path()
        if self.at_term_end():
            return Exists(path)
        op = self.operator()
        value = self.pattern() if op in PATTERN_OPS else self.value(op)
        if not self.at_term_end():
            self.fail(f"unexpected {self.peek()!r} after the value")
        return Compare(path, op, value, self.vocab(value))

    def at_term_end(self) -> bool:
        self.skip_ws()
        return self.peek() in ("", ";", "|", ")")

    def operator(self) -> str:
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        if self.peek() == "=":
            self.fail("unknown operator '=' (use '==')")
        self.fail("expected an operator (== != > >= < <= ~= !~=), ';', '|' or ')'")

    # -- attribute paths --------------------------------------------------------------------

    def path(self) -> Path:
        self.skip_ws()
        attr = self.expand(self.name("an attribute name"))
        sub: list[str] = []
        while self.peek() == ".":
            self.pos += 1
            if sub and sub[-1] in METADATA_MEMBERS:
                self.fail(f"nothing can follow the metadata member {sub[-1]!r}", self.pos - 1)
            name = self.name("a sub-attribute name")
            sub.append(name if name in METADATA_MEMBERS else self.expand(name))
        keys: list[str] = []
        while self.peek() == "[":
            if sub and sub[-1] in METADATA_MEMBERS:
                self.fail(f"the metadata member {sub[-1]!r} cannot be indexed")
            start = self.pos
            end = self.text.find("]", start)
            if end < 0:
                self.fail("unterminated '['", start)
            key = self.text[start + 1 : end]
            if not key or "[" in key:
                self.fail("expected a key inside '[...]'", start)
            keys.append(key)
            self.pos = end + 1
        if self.peek() == ".":
            self.fail("a sub-attribute cannot follow '[...]'")
        return Path(attr, tuple(sub), tuple(keys))

    def name(self, what: str) -> str:
        start = self.pos
        text = self.text
        if text.startswith(_IRI_PREFIXES, start):
            # a full IRI may hold '.' and ':'; it runs up to an operator or a delimiter
            while self.pos < len(text) and not self.iri_stop(self.pos):
                self.pos += 1
        else:
            if not (self.peek().isalpha() or self.peek() == "_"):
                self.fail(f"expected {what}")
            while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "_-:"):
                self.pos += 1
        return text[start : self.pos]

    def iri_stop(self, at: int) -> bool:
        char = self.text[at]
        return (
            char in '=!<>;|()[],"'
            or char.isspace()
            or (char == "~" and self.text.startswith("~=", at))
        )

    # -- values -----------------------------------------------------------------------------

    def value(self, op: str) -> Value:
        self.skip_ws()
        start = self.pos
        first = self.scalar()
        if self.text.startswith("..", self.pos):
            self.pos += 2
            high_at = self.pos
            high = self.scalar()
            if op not in EQUALITY_OPS:
                self.fail(f"a range can only follow == or !=, not {op}", start)
            kind = self.comparable(first, start)
            if kind is None or kind != self.comparable(high, high_at):
                self.fail("a range needs two numbers, two strings or two dates/times", start)
            return Range(first, high)
        if self.peek() == ",":
            items = [first]
            while self.peek() == ",":
                self.pos += 1
                items.append(self.scalar())
            if op not in EQUALITY_OPS:
                self.fail(f"a value list can only follow == or !=, not {op}", start)
            return ValueList(tuple(items))
        if op in ORDER_OPS and self.comparable(first, start) is None:
            self.fail(f"{op} needs a number, a quoted string or a date/time", start)
        return first

    def comparable(self, value: Scalar, at: int) -> str | None:
        """The kind of an orderable literal (number, quoted string, date/time), else None."""
        if isinstance(value, DateTimeLit):
            return "moment"
        if isinstance(value, str):
            return "string" if self.text.startswith('"', at) else None
        return None if isinstance(value, bool) else "number"

    def scalar(self) -> Scalar:
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        text = self.text
        while (
            self.pos < len(text)
            and text[self.pos] not in ';|(),"'
            and not text[self.pos].isspace()
            and not text.startswith("..", self.pos)
        ):
            self.pos += 1
        atom = text[start : self.pos]
        if not atom:
            self.fail("expected a value")
        if atom in ("true", "false"):
            return atom == "true"
        if _NUMBER.fullmatch(atom):
            number = float(atom) if any(c in atom for c in ".eE") else int(atom)
            if isinstance(number, float) and math.isinf(number):
                self.fail(f"number out of range {atom!r}", start)
            return number
        if atom[:1].isdigit():
            moment = parse_temporal(atom)
            if moment is None:
                self.fail(f"invalid number, date or time {atom!r}", start)
            return DateTimeLit(atom, moment)
        if _URI.fullmatch(atom):
            return atom
        self.fail(f"unquoted value {atom!r} (strings must be in double quotes)", start)

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(chars)
            if char == "\\" and self.pos + 1 < len(text):
                self.pos += 1
                char = text[self.pos]
            chars.append(char)
            self.pos += 1
        self.fail("unterminated string", start)

    def pattern(self) -> Pattern:
        self.skip_ws()
        start = self.pos
        if self.peek() == '"':
            source = self.quoted()
        else:
            source = self.regex_text()
        if not source:
            self.fail("empty regular expression", start)
        try:
            return Pattern(source, re.compile(source))
        except re.error as err:
            self.fail(f"invalid regular expression ({err})", start)

    def regex_text(self) -> str:
        """The raw pattern: up to ';', '|' or an unbalanced ')', outside groups and classes."""
        start = self.pos
        text = self.text
        depth = 0
        class_from = -1  # index where the current [...] class body starts, -1 outside one
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if class_from >= 0:
                if char == "]" and self.pos > class_from:
                    class_from = -1
            elif char == "[":
                class_from = self.pos + (2 if text.startswith("^", self.pos + 1) else 1)
            elif char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in ";|" and depth == 0:
                break
            self.pos += 1
        self.pos = min(self.pos, len(text))
        return text[start : self.pos]

    def vocab(self, value: Value) -> Value | None:
        """``value`` with its strings expanded as terms (VocabProperty values are stored
        expanded), or None when that changes nothing."""
        expanded: Value
        if isinstance(value, ValueList):
            expanded = ValueList(tuple(self.term(item) for item in value.items))
        elif isinstance(value, str):
            expanded = self.term(value)
        else:
            return None
        return None if expanded == value else expanded

    def term(self, value: Scalar) -> Scalar:
        if isinstance(value, str) and value and not any(c.isspace() for c in value):
            try:
                return self.expand(value)
            except CityhubError:  # not a term, so it cannot be a vocabulary value
                return value
        return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- evaluation ----------------------------------------------------------------------------


def matches(expr: QExpr, entity: Entity) -> bool:
    """Whether a stored-form entity satisfies a parsed ``q``; never raises on odd content."""
    if isinstance(expr, And):
        return all(matches(item, entity) for item in expr.items)
    if isinstance(expr, Or):
        return any(matches(item, entity) for item in expr.items)
    if isinstance(expr, Exists):
        return _exists(expr.path, entity)
    if isinstance(expr, NotExists):
        return not _exists(expr.path, entity)
    return _compare(expr, entity)


def _exists(path: Path, entity: Entity) -> bool:
    return bool(_targets(path, entity) if path.keys or path.metadata else _nodes(path, entity))


def _compare(expr: Compare, entity: Entity) -> bool:
    targets = _targets(expr.path, entity)
    if not targets:
        return False  # a missing attribute matches no comparison, not even != or !~=
    op = expr.op
    if isinstance(expr.value, Pattern):
        regex = expr.value.regex
        hit = any(
            isinstance(x, str) and regex.search(x) for kind, v in targets for x in _flat(kind, v)
        )
        return hit if op == "~=" else not hit
    hit = False
    for kind, target in targets:
        wanted = expr.vocab if kind == VOCAB_PROPERTY and expr.vocab is not None else expr.value
        if any(_test(op, x, wanted) for x in _flat(kind, target)):
            hit = True
            break
    return not hit if op == "!=" else hit


def _test(op: str, target: Any, value: Value) -> bool:
    if op in EQUALITY_OPS:  # != is applied by the caller, over all targets
        if isinstance(value, ValueList):
            return any(_equal(target, item) for item in value.items)
        if isinstance(value, Range):
            low, high = _order(target, value.low), _order(target, value.high)
            return low is not None and high is not None and low >= 0 and high <= 0
        return not isinstance(value, Pattern) and _equal(target, value)
    if isinstance(value, Range | ValueList | Pattern):
        return False
    sign = _order(target, value)
    return sign is not None and _ORDERING[op](sign, 0)


def _equal(target: Any, value: Scalar) -> bool:
    if isinstance(value, bool):
        return isinstance(target, bool) and target == value
    if _is_number(value):
        return _is_number(target) and bool(target == value)
    if isinstance(value, DateTimeLit):
        return _order(target, value) == 0
    return isinstance(target, str) and target == value


def _order(target: Any, value: Scalar) -> int | None:
    """-1, 0 or 1 comparing target with value, None when they cannot be compared."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _sign(target, value) if _is_number(target) else None
    if not isinstance(target, str):
        return None
    text = value.text if isinstance(value, DateTimeLit) else value
    theirs = value.dt if isinstance(value, DateTimeLit) else parse_temporal(value)
    if theirs is not None:
        mine = parse_temporal(target)
        if mine is not None:
            a, b = _instant(mine), _instant(theirs)
            if type(a) is type(b):
                return _sign(a, b)
    return _sign(target, text)


def _instant(moment: datetime | date | time) -> datetime | time:
    """Dates become midnight UTC so that they order against DateTimes."""
    if isinstance(moment, datetime | time):
        return moment
    return datetime.combine(moment, time(), UTC)


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _nodes(path: Path, entity: Entity) -> list[dict[str, Any]]:
    """The instances (or sub-attribute instances) a path reaches, metadata member aside."""
    attrs = entity.get("attrs")
    if not isinstance(attrs, dict):
        return []
    nodes = _instances(attrs.get(path.attr))
    for name in path.sub[:-1] if path.metadata else path.sub:
        nodes = [found for node in nodes for found in _instances(node.get(name))]
    return nodes


def _targets(path: Path, entity: Entity) -> list[tuple[str, Any]]:
    """(attribute type, compared value) for every place the path reaches."""
    nodes = _nodes(path, entity)
    meta = path.metadata
    if meta is not None:
        return [("", node[meta]) for node in nodes if meta in node]
    found: list[tuple[str, Any]] = []
    for node in nodes:
        kind = node.get("type")
        kind = kind if isinstance(kind, str) and kind in VALUE_MEMBER else PROPERTY
        value = node.get(VALUE_MEMBER[kind])
        if path.keys or kind == LANGUAGE_PROPERTY:
            found.extend((kind, x) for x in _walk(kind, value, path.keys))
        else:
            found.append((kind, value))
    return found


def _walk(kind: str, value: Any, keys: tuple[str, ...]) -> list[Any]:
    """Follow compound keys; for a LanguageProperty the first key picks the language."""
    values = [value]
    if kind == LANGUAGE_PROPERTY:
        if not isinstance(value, dict):
            return []
        if not keys:
            return list(value.values())
        values, keys = ([value[keys[0]]] if keys[0] in value else []), keys[1:]
    for key in keys:
        values = [
            item[key]
            for current in values
            for item in (current if isinstance(current, list) else [current])
            if isinstance(item, dict) and key in item
        ]
    return values


def _instances(found: Any) -> list[dict[str, Any]]:
    return [
        node for node in (found if isinstance(found, list) else [found]) if isinstance(node, dict)
    ]


def _flat(kind: str, value: Any) -> list[Any]:
    """The values to test: the elements of an array, JSON-LD value objects unwrapped."""
    found = []
    for x in value if isinstance(value, list) else [value]:
        if isinstance(x, dict) and "@value" in x:
            x = x["@value"]
        elif isinstance(x, dict) and kind == LIST_RELATIONSHIP:
            x = x.get("object", x.get("@id"))
        found.append(x)
    return found
