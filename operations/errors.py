"""One error type for everything a request can get wrong, naming the field at fault.

Pages show `errors[field]` next to the input of that name; the API answers
`{"detail", "field", "errors": [{"field", "message"}]}` with the status. Validation errors
of the contract's pydantic models, the domain rules' `RuleViolation` and a workflow's update
rejection all end up here, so the customer sees the same sentence the CLI would print.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.refresh_rules import RuleViolation


class FieldError(Exception):
    """A refused request: HTTP status, a sentence, and the field(s) at fault if any."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})  # e.g. Retry-After of a 429
        self.errors = dict(errors or ({field: message} if field else {}))
        self.field = field or next(iter(self.errors), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "field": self.field,
            "errors": [{"field": f, "message": m} for f, m in self.errors.items()],
        }


def not_found(what: str = "not found") -> FieldError:
    return FieldError(404, what)


def forbidden(what: str = "you do not have the role this needs") -> FieldError:
    return FieldError(403, what)


def loc_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'shipping_address', 'postal_code') -> 'shipping_address.postal_code'."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or "body"


def _message(err: Any) -> str:
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def from_validation(exc: ValidationError, prefix: tuple[str, ...] = ()) -> FieldError:
    errors: dict[str, str] = {}
    for err in exc.errors():
        errors.setdefault(loc_name((*prefix, *err["loc"])), _message(err))
    field, message = next(iter(errors.items()))
    summary = message if len(errors) == 1 else f"{len(errors)} fields need attention"
    return FieldError(422, f"{field}: {summary}" if len(errors) == 1 else summary, field, errors)


def from_request_errors(errors: list[dict[str, Any]]) -> FieldError:
    """FastAPI's RequestValidationError.errors() -> FieldError (422)."""
    found: dict[str, str] = {}
    for err in errors:
        found.setdefault(loc_name(err.get("loc", ())), _message(err))
    if not found:
        return FieldError(422, "the request is not valid")
    field, message = next(iter(found.items()))
    return FieldError(422, f"{field}: {message}", field, found)


def from_rule(v: RuleViolation) -> FieldError:
    return FieldError(422, v.message, v.field)


def _application_cause(exc: BaseException | None) -> BaseException | None:
    """The innermost ApplicationError (an activity's failure inside an update), if any."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return exc


def from_update(exc: WorkflowUpdateFailedError) -> FieldError:
    """A rejected or failed update -> the status and field a person can act on."""
    cause = _application_cause(exc.cause)
    message = getattr(cause, "message", None) or str(cause or exc)
    kind = cause.type if isinstance(cause, ApplicationError) else None
    # RuleViolation(field, message) and the workflow's InvalidMessage say "field: message".
    if kind in ("RuleViolation", "InvalidMessage"):
        field, sep, text = message.partition(": ")
        if sep and " " not in field:
            return FieldError(422, text, field)
        return FieldError(422, message)
    if kind == "LinkRefused":
        return FieldError(404, message)
    if kind == "SlotUnavailable":
        return FieldError(409, message, "slot_id")
    if "is not an approver" in message:
        return FieldError(403, message, "approver")
    return FieldError(409, message)


def from_rpc(exc: RPCError, ticket_id: str) -> FieldError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return FieldError(404, f"no ticket {ticket_id}")
    return FieldError(503, f"Temporal did not answer: {exc.message}")
