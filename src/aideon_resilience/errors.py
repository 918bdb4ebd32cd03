"""One exception hierarchy for the whole harness.

Every error carries the process exit code the CLI turns it into (see the contract in the README):
2 for unusable input or a refusal by a safety guard (nothing was changed), 3 for an infrastructure
error that makes a verdict impossible. Messages are one line and name the file and field where
there is one.
"""

from __future__ import annotations


class AideonError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(AideonError):
    """Unusable input: a bad option, file or field. Nothing was changed."""

    exit_code = 2


class InputFileError(UsageError):
    """A file the user gave is missing or malformed; the message names the file and the field."""

    def __init__(self, path: object, problem: str, field: str | None = None) -> None:
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + problem)
        self.path = str(path)
        self.field = field
        self.problem = problem


def from_validation(path: object, exc: Exception) -> InputFileError:
    """The first error of a pydantic ValidationError as one line naming the file and field."""
    err = exc.errors()[0]  # type: ignore[attr-defined]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return InputFileError(path, str(err["msg"]).removeprefix("Value error, "), field=field)


class SafetyRefusal(UsageError):
    """A safety guard refused the operation before anything was changed."""


class BuildError(UsageError):
    """The local cluster's binaries could not be built (missing toolchain, failed build)."""


class InfrastructureError(AideonError):
    """Something outside the input failed (a process, the cluster, the network): inconclusive."""

    exit_code = 3


class ClusterError(InfrastructureError):
    """The local embedded cluster could not be brought up, reached or torn down."""
