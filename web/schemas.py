"""Request bodies of the JSON API: the contract's messages without the fields the server fills.

`actor`, `approver` and `role` come from the session, never from the caller, so they are
dropped from each contract model; everything else (limits, the shipping address checks,
unknown fields refused) is the contract's own definition, not a copy of it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from domain.refresh import (
    Approve,
    Cancel,
    ChangeRequest,
    ExchangeReplacement,
    Hold,
    PickSlot,
    ProvideLocation,
    Reject,
    Release,
    ReplacementSystem,
    Reschedule,
    SendInviteNow,
    SetTracking,
    Strict,
    TicketEdit,
    TriggerCustomerReschedule,
    WizardSubmission,
)


def without(model: type[BaseModel], *drop: str) -> type[Strict]:
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in drop
    }
    return create_model(f"{model.__name__}Body", __base__=Strict, **fields)


WizardBody = without(WizardSubmission, "actor")
PickSlotBody = without(PickSlot, "actor")
ProvideLocationBody = without(ProvideLocation, "actor")
HoldBody = without(Hold, "actor")
ReleaseBody = without(Release, "actor")
RescheduleBody = without(Reschedule, "actor")
CancelBody = without(Cancel, "actor")
ExchangeBody = without(ExchangeReplacement, "actor")
TrackingBody = without(SetTracking, "actor")
TriggerRescheduleBody = without(TriggerCustomerReschedule, "actor")
SendInviteNowBody = without(SendInviteNow, "actor")
ApproveBody = without(Approve, "approver")
RejectBody = without(Reject, "approver")
ChangeRequestBody = without(ChangeRequest, "approver")
EditBody = without(TicketEdit, "actor", "role")


class Login(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Assignment(Strict):
    ticket_id: str = Field(min_length=1, max_length=64)
    replacement: ReplacementSystem


class AssignReplacements(Strict):
    group: str | None = Field(default=None, max_length=200)
    assignments: list[Assignment] = Field(min_length=1, max_length=2000)


class BulkReschedule(Strict):
    ticket_ids: list[str] = Field(min_length=1, max_length=2000)
    slot_id: int | None = Field(
        default=None, gt=0, description="assign this slot; omit to ask each customer to pick again"
    )
    reason: str = Field(default="", max_length=2000)


class BatchPreview(Strict):
    csv: str = Field(min_length=1, max_length=5_000_000)


class BatchCreate(Strict):
    config_id: str = Field(min_length=1, max_length=64)
    batch_id: str = Field(min_length=1, max_length=64)
    csv: str = Field(min_length=1, max_length=5_000_000)
    source_name: str = Field(default="api", max_length=255)


class AssignCsv(Strict):
    group: str | None = Field(default=None, max_length=200)
    csv: str = Field(
        min_length=1,
        max_length=5_000_000,
        description="header: ticket_id or existing_serial, replacement_serial, platform, model"
        " (optional tracking_number, group)",
    )


class TicketIds(Strict):
    ticket_ids: list[str] = Field(min_length=1, max_length=2000)
    reason: str = Field(default="", max_length=2000)


class PreferenceChanges(Strict):
    weekday: int | str | None = None
    start: str | None = None
    length_minutes: int | None = None
    capacity: int | None = None
    location: str | None = None
