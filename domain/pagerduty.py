"""PagerDuty Events API v2 as deskflow speaks it: the event body and the answer.

`POST /v2/enqueue` with `{routing_key, event_action, dedup_key, payload}`; 202
`{"status": "success", "message": "Event processed", "dedup_key": ...}`; 400
`{"status": "invalid event", "message": ..., "errors": [...]}`; 429 and 5xx are retried.
An alert is identified by its routing key and dedup key: a second trigger for an open alert
adds to that alert and notifies no one again, which is what makes a retried page harmless;
acknowledge and resolve reuse the trigger's dedup key on the same routing key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventAction = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Link(_Model):
    href: Annotated[str, Field(min_length=1, max_length=2000)]
    text: Annotated[str, Field(max_length=200)] = ""


class EventPayload(_Model):
    summary: Annotated[str, Field(min_length=1, max_length=1024)]
    source: Annotated[str, Field(min_length=1, max_length=255)]
    severity: Severity = "critical"
    custom_details: dict[str, Any] = Field(default_factory=dict)


class PageEvent(_Model):
    """One Events API v2 event (the `pagerduty_event` activity's input)."""

    routing_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{32}$")]
    event_action: EventAction
    dedup_key: Annotated[str, Field(min_length=1, max_length=255)]
    payload: EventPayload | None = None  # required by trigger only
    links: list[Link] = Field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


class PageAccepted(_Model):
    status: str
    dedup_key: str
    message: str = ""


class PageRequest(_Model):
    """`pagerduty_event`: the event, and (for a trigger to a person) whose signed
    "Acknowledge" and "Reached the customer" links to add, made by the activity so the
    signing key never enters workflow history."""

    event: PageEvent
    case_id: str | None = None
    person: str | None = None
