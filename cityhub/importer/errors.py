"""Errors of ``cityhub import``: fatal ones (one line, exit code 1) and rejected rows."""

from __future__ import annotations

from cityhub.errors import CityhubError


class ImportFailed(CityhubError):
    """The import cannot go on (bad mapping, unreadable input, hub unreachable): one line for
    the user, exit code 1."""


class MappingError(ImportFailed):
    """The mapping file is unusable; the message names the file, the table and the key."""


class RowError(Exception):
    """One row cannot be taken.

    ``reason`` is short and the same for every row failing the same way (the summary counts
    rows by it); ``detail`` is the precise message for this row (with the offending value).
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason
