"""Domain errors. Each maps to one clear answer: an HTTP status or a CLI exit message."""

from __future__ import annotations


class TenderoError(Exception):
    """Base of every error the product reports to a person (merchant, integrator)."""

    http_status = 400

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)


class NotFound(TenderoError):
    http_status = 404


class ValidationFailed(TenderoError):
    """Input that does not pass validation; ``details`` lists every problem found."""

    http_status = 422


class Conflict(TenderoError):
    """The request is valid but the current state does not allow it."""

    http_status = 409
