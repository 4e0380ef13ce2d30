"""What the service-desk workflows tell people, and the activity requests they use for it.

The end user's emails (`ticket_created`, `ticket_updated`, `ticket_closed`) and the team's
(`team_notice`, `sla_warning`, `sla_breach`) are rendered by the ordinary `send_email`
activity (same headers, same once-only log); this module builds their context in plain
values, formatted in the desk calendar's time zone and in the client's language, so the
templates hold no logic beyond choosing the French or English text.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.business_calendar import _zone
from domain.itsm import (
    ItsmName,
    NewNote,
    ServiceDeskTicket,
    TicketChange,
    TicketQuery,
    TicketRef,
)
from domain.service_desk import Language
from domain.sla_clock import ClockState

ITSM_NAMES = {"halo": "HaloPSA", "servicenow": "ServiceNow"}
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def desk_ticket_key(itsm: str, ticket_id: str) -> str:
    """The ticket id deskflow logs emails and events under (X-Deskflow-Ticket)."""
    return f"{itsm}-{ticket_id}"


def when(moment: datetime | None, tz: str, lang: Language) -> str:
    """A moment as people read it, in the desk's zone and the reader's language."""
    if moment is None:
        return "—" if lang == "en" else "—"
    local = moment.astimezone(_zone(tz))
    if lang == "fr":
        day = _FR_DAYS[local.weekday()]
        return f"{day} {local.day} {_FR_MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"
    return local.strftime("%A %B %-d, %Y at %-I:%M %p")


def duration(left: timedelta | None, lang: Language) -> str:
    """Working time left, e.g. "3 h 20 min" ("overdue by ..." once negative)."""
    if left is None:
        return "—"
    over = left < timedelta(0)
    minutes = int(abs(left).total_seconds() // 60)
    h, m = divmod(minutes, 60)
    text = f"{h} h {m:02d} min" if h else f"{m} min"
    if over:
        return f"en retard de {text}" if lang == "fr" else f"overdue by {text}"
    return text


def ticket_context(t: ServiceDeskTicket, lang: Language, tz: str) -> dict[str, object]:
    """The ticket as every service-desk email shows it."""
    return {
        "lang": lang,
        "itsm": ITSM_NAMES[t.itsm],
        "number": t.id,
        "summary": t.summary,
        "user_name": t.user.name,
        "priority": t.priority,
        "category": t.category,
        "status": t.status_name or t.status.value,
        "opened": when(t.opened_at, tz, lang),
    }


def clock_context(c: ClockState, lang: Language, tz: str) -> dict[str, object]:
    """The SLA figures of a warning or breach email."""
    return {
        "response_due": when(c.response_due, tz, lang),
        "resolution_due": when(c.resolution_due, tz, lang),
        "response_left": duration(c.response_left, lang),
        "resolution_left": duration(c.resolution_left, lang),
    }


class LoadDesk(BaseModel):
    """`itsm_load_desk`: the service desk's reference data, with its calendar's holidays."""

    model_config = ConfigDict(extra="forbid")

    years: list[int]


class SlaProjection(BaseModel):
    """`project_sla_clock`: the console's row of one clock."""

    model_config = ConfigDict(extra="forbid")

    clock: ClockState
    due_at: AwareDatetime | None = None


CATCH_UP_SCHEDULE_ID = "itsm-catch-up"
CATCH_UP_WORKFLOW = "ItsmCatchUp"


class CatchUpInput(BaseModel):
    """The `itsm-catch-up` Schedule's start input: which ITSM to read."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName


class CatchUpRequest(BaseModel):
    """`itsm_catch_up`: read what changed in `itsm` since its watermark and deliver it."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    task_queue: str
    overlap_seconds: int = 120


class CatchUpResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: int
    events: int
    watermark: AwareDatetime | None


class ItsmUpdate(BaseModel):
    """`itsm_update_ticket` on the named ITSM."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    change: TicketChange


class ItsmAddNote(BaseModel):
    """`itsm_add_note` on the named ITSM."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    note: NewNote


class ItsmSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    query: TicketQuery


TICKET_LOOKUP_WORKFLOW = "LookupItsmTicket"


class ItsmGet(BaseModel):
    """`itsm_get_ticket` and `LookupItsmTicket`: one ticket of the named ITSM."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: TicketRef


class TicketExistence(BaseModel):
    """What `LookupItsmTicket` found: the ticket, or why the ITSM has none by that id."""

    model_config = ConfigDict(extra="forbid")

    found: bool
    ticket: ServiceDeskTicket | None = None
    reason: str = ""
