"""The state of one SLA clock and how ITSM events move it: pure, so `SlaClock` stays thin.

`SlaClock` (workflow) keeps a :class:`ClockState`, feeds it every :class:`ItsmEvent` through
`apply_event`, asks `due_milestones` what to tell now and `next_wakeup` when to look again,
and does the telling. Everything that decides an instant is here and in `domain.sla`, so it
is tested table by table without Temporal, and replays compute the same timers.

Event rules (seed 002 and DESIGN.md "Service-desk tickets, SLA clocks and emails"):

* the newest ticket snapshot wins for the ticket's fields (of two stamped the same second,
  the later delivered); an older one (a reordered delivery) changes none of them;
* each action id is acted on once, whenever it arrives (a repeat changes nothing);
* statuses are facts at the ITSM's own times: every snapshot says "status X at its
  updated_at", every status action "X from its time on". They are kept in time order
  (`status_marks`), and pauses and the finish are read from that timeline, so a hold and
  its release count the same pause in whichever order they are delivered or replayed;
* entering a hold status pauses the clock at the change's time; leaving it resumes;
* the first agent reply to the end user meets the response target; a private note or a
  field change does not;
* a priority change re-targets the clock, keeping spent time and pauses;
* resolved, closed or cancelled stops it: met if no target was missed, else breached.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.business_calendar import BusinessCalendar
from domain.itsm import (
    FINISHED,
    ActionKind,
    ItsmEvent,
    ItsmName,
    ServiceDeskTicket,
    TicketStatus,
)
from domain.service_desk import ServiceDesk, targets_for
from domain.sla import (
    Milestone,
    Pause,
    SlaState,
    Target,
    Targets,
    due_instant,
    milestone_due,
    milestones,
    spent,
)

WORKFLOW_TYPE = "SlaClock"
SEEN_ACTIONS_KEPT = 500  # ids older than this many are also older than any repeat we get
MARKS_KEPT = 200  # status marks kept whole; older repeats of one status are merged


def workflow_id(itsm: str, ticket_id: str) -> str:
    return f"sla-{itsm}-{ticket_id}"


class SlaClockInput(BaseModel):
    """Start input (signal-with-start carries the first event as the `ticket_event` signal)."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str
    resume: ClockState | None = None


class StatusMark(BaseModel):
    """The ticket had `status` at `at`, as the ITSM stamped it; `order` breaks ties."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    order: str = ""
    status: TicketStatus

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.at, self.order)


class ClockState(BaseModel):
    """Everything the `state` query shows and continue-as-new carries."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str
    summary: str = ""
    client: str = ""
    team: str = ""
    priority: str = ""
    status: TicketStatus = TicketStatus.new
    opened_at: AwareDatetime | None = None
    last_update: AwareDatetime | None = None
    targets: Targets | None = None
    pauses: list[Pause] = Field(default_factory=list)
    status_marks: list[StatusMark] = Field(default_factory=list)
    responded_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    seen_actions: list[str] = Field(default_factory=list)
    retargets: int = 0
    itsm_refusals: list[str] = Field(default_factory=list)  # writes the ITSM refused for good
    state: SlaState = SlaState.running
    response_due: AwareDatetime | None = None
    resolution_due: AwareDatetime | None = None
    response_left: timedelta | None = None
    resolution_left: timedelta | None = None
    next_wakeup: AwareDatetime | None = None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


def apply_event(
    s: ClockState,
    desk: ServiceDesk,
    event: ItsmEvent,
    now: datetime,
    warn: list[int],
    timeline: bool = True,
) -> list[str]:
    """Fold one event into the clock; returns what changed, in words (empty: nothing).

    `timeline` False is the rule before status changes were ordered by the ITSM's own times
    (histories recorded then replay with it; see `SlaClock`, patch `sla-status-timeline`)."""
    if not timeline:
        return _apply_by_arrival(s, desk, event, now, warn)
    _seed_marks(s)
    t, a = event.ticket, event.action
    changes = _take_action(s, event, now)
    if s.last_update is None or t.updated_at >= s.last_update:
        changes += _take_snapshot(s, desk, t, now, warn)
    order = event.order[1]
    facts = [(t.updated_at, order, t.status)]
    if a is not None and a.new_status is not None:
        facts.append((a.at, order, a.new_status))
    opened = s.opened_at or t.opened_at
    for at, key, status in facts:
        _mark(s, StatusMark(at=min(max(at, opened), now), order=key, status=status))
    return changes + _read_timeline(s)


def _take_action(s: ClockState, event: ItsmEvent, now: datetime) -> list[str]:
    """The event's action, once: an agent's first reply to the user meets the response."""
    a, t = event.action, event.ticket
    if a is None or a.id in s.seen_actions:
        return []
    s.seen_actions = [*s.seen_actions, a.id][-SEEN_ACTIONS_KEPT:]
    if a.kind == ActionKind.agent_reply and s.responded_at is None and not s.finished:
        s.responded_at = min(max(a.at, t.opened_at), now)
        return ["first response"]
    return []


def _take_snapshot(
    s: ClockState, desk: ServiceDesk, t: ServiceDeskTicket, now: datetime, warn: list[int]
) -> list[str]:
    """The ticket's fields from a snapshot no older than the last: a new priority re-targets."""
    first = s.last_update is None
    s.last_update = t.updated_at
    s.summary, s.client, s.team = t.summary, t.client, t.team or s.team
    if first:
        s.opened_at = t.opened_at
        s.milestones = milestones(warn)
    if t.priority == s.priority:
        return []
    changes = [] if first else [f"priority {s.priority or '-'} -> {t.priority}"]
    if not first:
        s.retargets += 1
    s.priority = t.priority
    s.targets = targets_for(desk, t)
    _rearm(s, desk.calendar, now)
    return changes


def _seed_marks(s: ClockState) -> None:
    """A clock carried over (continue-as-new) from before the timeline has pauses and a
    finish but no status facts: rebuild the facts from them, so its past pauses are kept."""
    if s.status_marks or s.last_update is None or s.opened_at is None:
        return
    marks = [StatusMark(at=s.opened_at, status=TicketStatus.new)]
    for p in s.pauses:
        marks.append(StatusMark(at=p.start, status=TicketStatus.on_hold))
        if p.end is not None:
            marks.append(StatusMark(at=p.end, status=TicketStatus.in_progress))
    if s.finished_at is not None and s.status in FINISHED:
        marks.append(StatusMark(at=s.finished_at, status=s.status))
    elif marks[-1].status != s.status:
        marks.append(StatusMark(at=max(s.last_update, marks[-1].at), status=s.status))
    s.status_marks = sorted(marks, key=lambda m: m.key)


def _apply_by_arrival(
    s: ClockState, desk: ServiceDesk, event: ItsmEvent, now: datetime, warn: list[int]
) -> list[str]:
    """Status changes taken in the order they arrive (an older snapshot changes nothing)."""
    t = event.ticket
    when = min(max(event.ticket.updated_at, s.last_update or t.opened_at), now)
    changes = _take_action(s, event, now)
    if s.last_update is not None and t.updated_at < s.last_update:
        return changes
    changes += _take_snapshot(s, desk, t, now, warn)
    if t.status != s.status:
        changes.append(f"status {s.status.value} -> {t.status.value}")
        hold = t.status == TicketStatus.on_hold
        if hold and not s.paused and not s.finished:
            s.pauses = [*s.pauses, Pause(start=when)]
        elif not hold and s.paused:
            s.pauses[-1] = Pause(start=s.pauses[-1].start, end=max(when, s.pauses[-1].start))
        if t.status in FINISHED and not s.finished:
            s.finished_at = when
        elif t.status not in FINISHED and s.finished:
            s.finished_at = None
            changes.append("reopened")
        s.status = t.status
    return changes


def _mark(s: ClockState, mark: StatusMark) -> None:
    """Add a status fact in time order (a fact already known is not added twice)."""
    if any(m.at == mark.at and m.status == mark.status for m in s.status_marks):
        return
    marks = sorted([*s.status_marks, mark], key=lambda m: m.key)
    if len(marks) > MARKS_KEPT:  # merge old repeats: a late fact that old is not expected
        old, recent = marks[: -MARKS_KEPT // 2], marks[-MARKS_KEPT // 2 :]
        merged = [m for i, m in enumerate(old) if i == 0 or m.status != old[i - 1].status]
        marks = merged + recent
    s.status_marks = marks


def _read_timeline(s: ClockState) -> list[str]:
    """Status, pauses and finish as the timeline of status facts has them."""
    status, pauses, finished_at = TicketStatus.new, [], None
    for m in s.status_marks:
        if m.status == status:
            continue
        if status == TicketStatus.on_hold:
            pauses[-1] = Pause(start=pauses[-1].start, end=max(m.at, pauses[-1].start))
        if m.status == TicketStatus.on_hold and finished_at is None:
            pauses.append(Pause(start=m.at))
        if m.status in FINISHED and finished_at is None:
            finished_at = m.at
        elif m.status not in FINISHED:
            finished_at = None  # reopened: the clock runs again from where it stopped
        status = m.status
    changes = []
    if status != s.status:
        changes.append(f"status {s.status.value} -> {status.value}")
        if s.finished and finished_at is None:
            changes.append("reopened")
    if pauses != s.pauses:
        changes.append("pauses " + ", ".join(f"{p.start:%H:%M}-{p.end or ''}" for p in pauses))
    s.status, s.pauses, s.finished_at = status, pauses, finished_at
    return changes


def _rearm(s: ClockState, cal: BusinessCalendar, now: datetime) -> None:
    """After a re-target, milestones not yet reached under the new target are told again."""
    if s.targets is None or s.opened_at is None:
        return
    for m in s.milestones:
        if m.notified_at is not None:
            due = milestone_due(cal, s.opened_at, s.pauses, s.targets, m, now)
            if due is not None and due > now:
                m.notified_at = None


def _active(s: ClockState, m: Milestone) -> bool:
    return not (m.target == Target.response and s.responded_at is not None)


def due_milestones(s: ClockState, cal: BusinessCalendar, now: datetime) -> list[Milestone]:
    """Milestones whose notification instant has come and that were not told yet."""
    if s.targets is None or s.opened_at is None or s.finished or s.paused:
        return []
    found = []
    for m in s.milestones:
        if m.notified_at is None and _active(s, m):
            due = milestone_due(cal, s.opened_at, s.pauses, s.targets, m, now)
            if due is not None and due <= now:
                found.append(m)
    return sorted(found, key=lambda m: (m.percent, m.target.value))


def refresh(s: ClockState, cal: BusinessCalendar, now: datetime) -> None:
    """Recompute due instants, time left, the state and the next wake-up."""
    if s.targets is None or s.opened_at is None:
        s.response_due = s.resolution_due = s.next_wakeup = None
        s.response_left = s.resolution_left = None
        return
    at = s.finished_at or now
    used = spent(cal, s.opened_at, s.pauses, at)
    resp_at = s.responded_at or at
    resp_used = spent(cal, s.opened_at, s.pauses, resp_at)
    running = not (s.paused or s.finished)
    s.response_left = s.targets.response - resp_used
    s.resolution_left = s.targets.resolution - used
    s.response_due = _due(s, cal, s.targets.response, now) if s.responded_at is None else None
    s.resolution_due = _due(s, cal, s.targets.resolution, now)
    missed = (s.responded_at is not None and resp_used > s.targets.response) or (
        s.responded_at is None and s.response_left <= timedelta(0)
    )
    missed = missed or s.resolution_left <= timedelta(0)
    if s.finished:
        s.state = SlaState.breached if missed else SlaState.met
    elif missed:
        s.state = SlaState.breached
    elif s.paused:
        s.state = SlaState.paused
    elif any(m.notified_at is not None and m.percent < 100 for m in s.milestones):
        s.state = SlaState.warning
    else:
        s.state = SlaState.running
    s.next_wakeup = next_wakeup(s, cal, now) if running else None


def _due(s: ClockState, cal: BusinessCalendar, target: timedelta, now: datetime):
    assert s.opened_at is not None
    if s.finished:
        return None
    if s.paused:
        return None
    return due_instant(cal, s.opened_at, s.pauses, target, now)


def next_wakeup(s: ClockState, cal: BusinessCalendar, now: datetime) -> datetime | None:
    """The earliest notification instant still to come (None: nothing left to time)."""
    if s.targets is None or s.opened_at is None or s.finished or s.paused:
        return None
    times = [
        milestone_due(cal, s.opened_at, s.pauses, s.targets, m, now)
        for m in s.milestones
        if m.notified_at is None and _active(s, m)
    ]
    pending = [t for t in times if t is not None]
    return min(pending) if pending else None


def earliest_due(s: ClockState) -> datetime | None:
    """`SlaDueAt`: the next target to run out (response first while unanswered)."""
    dues = [d for d in (s.response_due, s.resolution_due) if d is not None]
    return min(dues) if dues else None


SlaClockInput.model_rebuild()
