"""The one error tree of cityhub.

Every error a user can cause or meet is a :class:`CityhubError`; the HTTP layer maps it to an
NGSI-LD ProblemDetails body (``type``, ``title``, ``status``, ``detail``) in one handler, so a
module only has to raise the right class.

    CityhubError
    ├── ConfigError                  bad setting, database URL, port, data dir (CLI: one line)
    ├── StorageError                 the database failed in a way the caller did not cause
    └── NgsiError                    has an NGSI-LD problem type and an HTTP status
        ├── InvalidRequest           400  malformed request (JSON syntax, bad parameter)
        ├── BadRequestData           400  well-formed but wrong content
        ├── ResourceNotFound         404
        ├── NonexistentTenant        404
        ├── NotAcceptable            406
        ├── AlreadyExists            409
        ├── Conflict                 409
        ├── PreconditionFailed       412
        ├── PayloadTooLarge          413
        ├── UnsupportedMediaType     415
        ├── OperationNotSupported    422
        ├── TooComplexQuery          403
        ├── TooManyResults           403
        ├── InternalError            500  a bug; never for bad input
        ├── Unauthenticated          401  no valid login, token or API key (cityhub type)
        ├── Forbidden                403  logged in, but not allowed (cityhub type)
        ├── NoMultiTenantSupport     501
        └── LdContextNotAvailable    503
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class CityhubError(Exception):
    """Base of every cityhub error."""


class ConfigError(CityhubError):
    """A setting, URL, port or directory cannot be used; shown to the user as one line."""


class StorageError(CityhubError):
    """The storage backend failed for a reason the request did not cause."""


class CursorMoved(StorageError):
    """A change-log consumer's cursor was moved by someone else (another worker took over)."""


class NgsiError(CityhubError):
    """An error with an NGSI-LD ProblemDetails representation."""

    status: ClassVar[int] = 400
    problem: ClassVar[str] = "InvalidRequest"

    def __init__(self, detail: str, *, title: str | None = None, instance: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.title = title or self._default_title()
        self.instance = instance

    @classmethod
    def _default_title(cls) -> str:
        words: list[str] = []
        for ch in cls.problem:
            if ch.isupper() and words:
                words.append(" ")
            words.append(ch)
        return "".join(words).capitalize()

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.problem

    def to_problem(self) -> dict[str, Any]:
        """The ProblemDetails JSON body (RFC 7807) for this error."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.instance:
            body["instance"] = self.instance
        return body


class InvalidRequest(NgsiError):
    status = 400
    problem = "InvalidRequest"


class BadRequestData(NgsiError):
    status = 400
    problem = "BadRequestData"


class ResourceNotFound(NgsiError):
    status = 404
    problem = "ResourceNotFound"


class NonexistentTenant(NgsiError):
    status = 404
    problem = "NonexistentTenant"


class NotAcceptable(NgsiError):
    status = 406
    problem = "NotAcceptable"


class AlreadyExists(NgsiError):
    status = 409
    problem = "AlreadyExists"


class Conflict(NgsiError):
    status = 409
    problem = "Conflict"


class PreconditionFailed(NgsiError):
    status = 412
    problem = "PreconditionFailed"


class PayloadTooLarge(NgsiError):
    status = 413
    problem = "PayloadTooLarge"


class UnsupportedMediaType(NgsiError):
    status = 415
    problem = "UnsupportedMediaType"


class OperationNotSupported(NgsiError):
    status = 422
    problem = "OperationNotSupported"


class TooComplexQuery(NgsiError):
    status = 403
    problem = "TooComplexQuery"


class TooManyResults(NgsiError):
    status = 403
    problem = "TooManyResults"


class InternalError(NgsiError):
    status = 500
    problem = "InternalError"


class NoMultiTenantSupport(NgsiError):
    status = 501
    problem = "NoMultiTenantSupport"


class LdContextNotAvailable(NgsiError):
    status = 503
    problem = "LdContextNotAvailable"


#: problem types NGSI-LD does not define (access control is outside its scope)
CITYHUB_PROBLEM_BASE = "urn:cityhub:errors:"


class Unauthenticated(NgsiError):
    status = 401
    problem = "Unauthenticated"

    @property
    def type_uri(self) -> str:
        return CITYHUB_PROBLEM_BASE + self.problem


class Forbidden(NgsiError):
    status = 403
    problem = "Forbidden"

    @property
    def type_uri(self) -> str:
        return CITYHUB_PROBLEM_BASE + self.problem
