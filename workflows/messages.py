"""Reading an update's or signal's raw arguments into its contract model, inside the workflow.

The SDK would convert the arguments before our handler runs: a payload it cannot convert
becomes "Failed decoding arguments" for an update and a silently dropped signal, and a
payload it can convert but our handler cannot use (null, no argument, two arguments)
raises in the handler, which fails the workflow task on every retry. The handlers take
the raw payloads instead and read them here, so every problem is a `MessageRefused` with
a reason that names the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from domain.messages import JSON_ENCODING, UNREADABLE_ENCODING, clip, explain

M = TypeVar("M", bound=BaseModel)


class MessageRefused(ValueError):
    """A message that cannot be read as its contract model; `str()` says why."""


def read_message(args: Sequence[RawValue], model: type[M]) -> M:
    """The one argument of a message, validated as `model`, or `MessageRefused`."""
    if len(args) != 1:
        got = "no argument" if not args else f"{len(args)} arguments"
        raise MessageRefused(f"payload: expected one {model.__name__} object, got {got}")
    payload = args[0].payload
    if payload.metadata.get("encoding") == UNREADABLE_ENCODING:
        reason = payload.data.decode(errors="replace")
        raise MessageRefused(clip(f"payload: could not be decrypted ({reason})"))
    try:
        if payload.metadata.get("encoding") == JSON_ENCODING:
            # What the converter would do for JSON, without a converter and a type adapter
            # made afresh for each activation's serialization context.
            return model.model_validate_json(payload.data)
        value = workflow.payload_converter().from_payload(payload, model)
    except Exception as err:  # any converter failure is the sender's, never the workflow's
        raise MessageRefused(_reason(err)) from None
    if value is None:
        raise MessageRefused(f"payload: expected a {model.__name__} object, got null")
    return value


def _reason(err: BaseException) -> str:
    """The validation error down the converter's cause chain, else the converter's words."""
    cur: BaseException | None = err
    while cur is not None:
        if isinstance(cur, ValidationError):
            return explain(cur)
        cur = cur.__cause__
    return clip(f"payload: {err}")
