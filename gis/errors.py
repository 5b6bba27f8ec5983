"""Domain exceptions; the API maps each to a status code in one place (api/errors.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


class GridsafeError(Exception):
    """Base of every error gridsafe raises on purpose; ``code`` is stable for clients."""

    code = "gridsafe_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(GridsafeError):
    code = "not_found"


class Conflict(GridsafeError):
    code = "conflict"


class TransitionRefused(Conflict):
    """A state change the hazard's current state (or signer rule) does not allow.

    ``current`` (status, version, …) goes into the error body so the client can refresh.
    """

    code = "transition_refused"

    def __init__(self, message: str, current: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.current = current or {}


class StaleVersion(TransitionRefused):
    """The client's version (body ``version``) is not the row's current one: 409."""

    code = "stale_version"


class PreconditionFailed(StaleVersion):
    """The client's ``If-Match`` ETag is not the row's current version: 412."""

    code = "precondition_failed"


class PreconditionRequired(GridsafeError):
    """A state change sent without the version it is based on (If-Match or ``version``)."""

    code = "precondition_required"


class InvalidInput(GridsafeError):
    code = "invalid_input"


class Unauthenticated(GridsafeError):
    """No valid credentials: missing, expired, revoked, or the account is inactive."""

    code = "unauthenticated"


class Forbidden(GridsafeError):
    """Signed in, but the role or scope does not allow this action."""

    code = "forbidden"


class DatabaseUnavailable(GridsafeError):
    code = "database_unavailable"


class DatabaseBusy(GridsafeError):
    """Every database connection of this process stayed in use: the server is up but saturated,
    so the request may simply be retried (unlike :class:`DatabaseUnavailable`)."""

    code = "database_busy"


class ConfigurationError(GridsafeError):
    """The deployment is configured unsafely (e.g. a default signing secret); not started."""

    code = "configuration_error"


class EmbeddedDatabaseError(GridsafeError):
    """The local PostgreSQL cluster could not be installed, created or started."""

    code = "embedded_database_error"


@dataclass(frozen=True)
class FieldIssue:
    """One reason one field of an input row was rejected."""

    field: str
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        shown = f" (值: {self.value})" if self.value not in (None, "") else ""
        return f"[{self.field}] {self.reason}{shown}"


@dataclass(frozen=True)
class RowProblem:
    """Why one input row was rejected (row numbers as the user sees them).

    ``issues`` lists every problem of the row, so one round of fixes clears the row. With one
    issue, ``field``/``reason``/``value`` are that issue; with several, ``field`` joins the
    fields with 、 and ``reason`` joins "field：reason" with ；, and ``value`` is None.
    """

    row: int
    field: str
    reason: str
    value: str | None = None
    issues: tuple[FieldIssue, ...] = ()

    @classmethod
    def of(cls, row: int, issues: list[FieldIssue]) -> RowProblem:
        """The problem of ``row`` made of all its ``issues`` (at least one)."""
        if len(issues) == 1:
            only = issues[0]
            return cls(row, only.field, only.reason, only.value, tuple(issues))
        fields = "、".join(dict.fromkeys(i.field for i in issues))
        reasons = "；".join(f"{i.field}：{i.reason}" for i in issues)
        return cls(row, fields, reasons, None, tuple(issues))

    def all_issues(self) -> tuple[FieldIssue, ...]:
        return self.issues or (FieldIssue(self.field, self.reason, self.value),)

    def __str__(self) -> str:
        return f"第{self.row}行 " + "；".join(str(i) for i in self.all_issues())


@dataclass
class ImportRejected(GridsafeError):
    """An import found problems; nothing was written."""

    problems: list[RowProblem] = field(default_factory=list)
    source: str = ""

    code = "import_rejected"

    def __post_init__(self) -> None:
        head = f"{self.source}: " if self.source else ""
        super().__init__(f"{head}{len(self.problems)} problem(s); nothing was imported")


class FileTooLarge(InvalidInput):
    """An uploaded file exceeds a bound (size, rows, cells, vertices, …) before parsing starts."""

    code = "file_too_large"
