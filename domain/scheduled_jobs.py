"""The scheduled jobs' contract: workflow types, schedule ids, inputs, activity messages.

Three Temporal Schedules drive the refresh calendar (DESIGN.md "Other workflows"):

* ``GenerateScheduleSlots`` (schedule ``schedule-slot-generation``, nightly): slots 5 weeks
  ahead from each team's Schedule Slot Preferences;
* ``DiscoverScheduleSlots`` (schedule ``slot-discovery``, 06:00 and 13:00 local): offer free
  slots to the oldest ``pending_slot_discovery`` tickets while the team has capacity;
* ``ApproverDigest`` (schedule ``approver-digest``, Fridays 07:00 local): one status email
  per approver.

Models are shared by the workflows (inside the sandbox), the activities, the CLI and tests.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from domain.refresh import SlotOffer, Strict
from domain.slot_generation import GENERATION_WEEKS

GENERATE_WORKFLOW = "GenerateScheduleSlots"
DISCOVER_WORKFLOW = "DiscoverScheduleSlots"
DIGEST_WORKFLOW = "ApproverDigest"

GENERATION_SCHEDULE_ID = "schedule-slot-generation"
DISCOVERY_SCHEDULE_ID = "slot-discovery"
DIGEST_SCHEDULE_ID = "approver-digest"

DIGEST_TEMPLATE = "approver_digest"
FRIDAY = 4  # date.weekday()


def digest_key(uniqname: str, friday: date) -> str:
    """Idempotency key of one approver's digest: one email per approver per Friday."""
    return f"approver-digest:{uniqname.lower()}:{friday.isoformat()}"


def approver_ticket_url(public_url: str, ticket_id: str) -> str:
    return f"{public_url.rstrip('/')}/approver/tickets/{ticket_id}"


# ----- GenerateScheduleSlots ----------------------------------------------------------------


class GenerateSlotsInput(Strict):
    weeks: int = Field(default=GENERATION_WEEKS, ge=1, le=26)
    team_ids: list[str] | None = Field(
        default=None, description="only these teams (default: every team)"
    )


class GenerateSlotsRequest(Strict):
    """Activity `generate_schedule_slots`: `now` is the workflow's time (determines today)."""

    now: datetime
    weeks: int = GENERATION_WEEKS
    team_ids: list[str] | None = None


class TeamGeneration(Strict):
    team_id: str
    first: date | None = Field(description="first day generated tonight; None: nothing due")
    created: int = 0
    already_there: int = 0


class GenerateSlotsResult(Strict):
    today: date
    through: date
    teams: list[TeamGeneration] = Field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(t.created for t in self.teams)


# ----- DiscoverScheduleSlots ----------------------------------------------------------------


class DiscoverSlotsInput(Strict):
    team_ids: list[str] | None = None
    chunk_size: int = Field(default=250, ge=1, le=2000, description="tickets per signal activity")
    max_offers: int = Field(default=200, ge=1, le=1000, description="slots offered per ticket")


class DiscoveryPlanRequest(Strict):
    now: datetime
    team_ids: list[str] | None = None
    max_offers: int = 200


class TeamDiscoveryPlan(Strict):
    team_id: str
    free_capacity: int
    invited: int = Field(description="pending_customer_scheduling tickets not booked yet")
    waiting: int = Field(description="pending_slot_discovery tickets")
    ticket_ids: list[str] = Field(default_factory=list, description="to invite, oldest first")
    offers: list[SlotOffer] = Field(default_factory=list)


class DiscoveryPlan(Strict):
    teams: list[TeamDiscoveryPlan] = Field(default_factory=list)


class SignalSlotsRequest(Strict):
    ticket_ids: list[str]
    offers: list[SlotOffer]


class SignalFailure(Strict):
    ticket_id: str
    reason: str


class SignalSlotsResult(Strict):
    signalled: list[str] = Field(default_factory=list)
    failed: list[SignalFailure] = Field(default_factory=list)


class TeamDiscoveryResult(Strict):
    team_id: str
    free_capacity: int
    invited_before: int
    waiting: int
    signalled: list[str] = Field(default_factory=list)
    failed: list[SignalFailure] = Field(default_factory=list)


class DiscoveryResult(Strict):
    teams: list[TeamDiscoveryResult] = Field(default_factory=list)

    @property
    def signalled(self) -> list[str]:
        return [t for team in self.teams for t in team.signalled]


# ----- ApproverDigest -----------------------------------------------------------------------


class ApproverDigestInput(Strict):
    timezone: str = "America/Detroit"
    approvers: list[str] | None = Field(default=None, description="only these uniqnames")


class DigestRecipientsRequest(Strict):
    friday: date
    now: datetime
    approvers: list[str] | None = None


class DigestRecipient(Strict):
    uniqname: str
    name: str
    email: str
    tickets: int


class SendDigestRequest(Strict):
    uniqname: str
    friday: date
    now: datetime


class SendDigestResult(Strict):
    uniqname: str
    email: str
    tickets: int
    sent: bool
    already_sent: bool = False


class ApproverDigestResult(Strict):
    day: date
    is_friday: bool
    sent: list[SendDigestResult] = Field(default_factory=list)
