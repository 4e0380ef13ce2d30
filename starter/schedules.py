"""`deskflow schedules register`: the three Temporal Schedules of the refresh calendar.

* `schedule-slot-generation` starts `GenerateScheduleSlots` every night at 00:30;
* `slot-discovery` starts `DiscoverScheduleSlots` at 06:00 and 13:00;
* `approver-digest` starts `ApproverDigest` on Fridays at 07:00;
* `provisioning-compliance` starts `ProvisioningComplianceReport` at 07:00 on days 1-7 (it
  mails last month's gauge on the first business day only);
* `itsm-catch-up` starts `ItsmCatchUp` every `DESKFLOW_ITSM_CATCH_UP_MINUTES` (5);

all in the calendar's time zone (`DESKFLOW_TIMEZONE`, America/Detroit), so the wall-clock
times hold across DST. Registering is idempotent: an existing schedule is updated to this
definition (keeping whether an operator paused it), so running it after every deploy is safe.
A run still going when the next is due is skipped, not queued; after an outage the server
runs a missed action once within the catch-up window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy

from domain.desk_messages import CATCH_UP_SCHEDULE_ID, CATCH_UP_WORKFLOW, CatchUpInput
from domain.provisioning import REPORT_SCHEDULE_ID, REPORT_WORKFLOW, ReportInput
from domain.scheduled_jobs import (
    DIGEST_SCHEDULE_ID,
    DIGEST_WORKFLOW,
    DISCOVER_WORKFLOW,
    DISCOVERY_SCHEDULE_ID,
    GENERATE_WORKFLOW,
    GENERATION_SCHEDULE_ID,
    ApproverDigestInput,
    DiscoverSlotsInput,
    GenerateSlotsInput,
    GenerateSlotsResult,
)
from domain.settings import Settings
from store.db import make_engine, session_factory
from store.tables import ScheduleSlot

TEMPORAL_FRIDAY = 5  # Temporal's day_of_week counts from Sunday = 0


def _at(hours: list[int], minute: int = 0, day_of_week: int | None = None) -> ScheduleCalendarSpec:
    """Local wall-clock times (the spec's time zone): these hours at `minute`, every day or
    on one weekday."""
    days = {} if day_of_week is None else {"day_of_week": [ScheduleRange(day_of_week)]}
    return ScheduleCalendarSpec(
        hour=[ScheduleRange(h) for h in hours],
        minute=[ScheduleRange(minute)],
        second=[ScheduleRange(0)],
        **days,
    )


def schedule_definitions(settings: Settings) -> dict[str, Schedule]:
    """The three schedules, by id, exactly as `register_schedules` creates them."""

    def schedule(
        workflow: str, arg: object, calendar: ScheduleCalendarSpec, catchup: timedelta
    ) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                workflow,
                arg,
                id=f"{workflow}-run",
                task_queue=settings.task_queue,
                execution_timeout=timedelta(hours=1),
            ),
            spec=ScheduleSpec(calendars=[calendar], time_zone_name=settings.timezone),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup),
        )

    return {
        GENERATION_SCHEDULE_ID: schedule(
            GENERATE_WORKFLOW, GenerateSlotsInput(), _at([0], minute=30), timedelta(days=1)
        ),
        DISCOVERY_SCHEDULE_ID: schedule(
            DISCOVER_WORKFLOW, DiscoverSlotsInput(), _at([6, 13]), timedelta(hours=6)
        ),
        DIGEST_SCHEDULE_ID: schedule(
            DIGEST_WORKFLOW,
            ApproverDigestInput(timezone=settings.timezone),
            _at([7], day_of_week=TEMPORAL_FRIDAY),
            timedelta(hours=12),
        ),
        # seed 000: the work-type gauge to the Service Desk Manager. It runs at 07:00 on the
        # month's first seven days; the workflow acts on the first business day only.
        REPORT_SCHEDULE_ID: schedule(
            REPORT_WORKFLOW,
            ReportInput(),
            ScheduleCalendarSpec(
                day_of_month=[ScheduleRange(1, 7)],
                hour=[ScheduleRange(7)],
                minute=[ScheduleRange(0)],
                second=[ScheduleRange(0)],
            ),
            timedelta(hours=12),
        ),
        # seed 002: a lost ITSM webhook is caught within minutes, not never.
        CATCH_UP_SCHEDULE_ID: Schedule(
            action=ScheduleActionStartWorkflow(
                CATCH_UP_WORKFLOW,
                CatchUpInput(itsm=settings.itsm),
                id=f"{CATCH_UP_WORKFLOW}-run",
                task_queue=settings.task_queue,
                execution_timeout=timedelta(minutes=30),
            ),
            spec=ScheduleSpec(
                time_zone_name=settings.timezone,
                intervals=[
                    ScheduleIntervalSpec(every=timedelta(minutes=settings.itsm_catch_up_minutes))
                ],
            ),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=10)
            ),
        ),
    }


async def register_schedules(
    client: Client, settings: Settings
) -> dict[str, Literal["created", "updated"]]:
    """Create each schedule, or update it in place if it exists. Returns what happened."""
    done: dict[str, Literal["created", "updated"]] = {}
    for schedule_id, schedule in schedule_definitions(settings).items():
        try:
            await client.create_schedule(schedule_id, schedule)
            done[schedule_id] = "created"
        except ScheduleAlreadyRunningError:

            def keep_pause(
                current: ScheduleUpdateInput, new: Schedule = schedule
            ) -> ScheduleUpdate:
                new.state = current.description.schedule.state
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(keep_pause)
            done[schedule_id] = "updated"
    return done


# ----- `deskflow dev` only ------------------------------------------------------------------

DEV_DISCOVERY_EVERY = timedelta(minutes=1)


async def dev_cadence(client: Client) -> None:
    """Under `deskflow dev`, slot discovery also runs every minute: a demo ticket whose
    replacement was just assigned offers appointment times within a minute, not at 13:00.
    (Production keeps 06:00 and 13:00; `deskflow schedules register` puts them back.)"""

    def every_minute(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        schedule.spec.intervals = [ScheduleIntervalSpec(every=DEV_DISCOVERY_EVERY)]
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(DISCOVERY_SCHEDULE_ID).update(every_minute)


async def generate_slots_if_none(client: Client, settings: Settings) -> int | None:
    """Run slot generation once now if no team has a future slot (a first start): the
    nightly schedule would leave the calendar empty until 00:30. Returns the slots made,
    or None when there were slots already."""
    with session_factory(make_engine(settings.database_url))() as db:
        upcoming = db.scalar(
            select(ScheduleSlot.id).where(ScheduleSlot.start_at > datetime.now(UTC)).limit(1)
        )
    if upcoming is not None:
        return None
    result = await client.execute_workflow(
        GENERATE_WORKFLOW,
        GenerateSlotsInput(),
        id=f"{GENERATE_WORKFLOW}-first-start",
        task_queue=settings.task_queue,
        execution_timeout=timedelta(minutes=10),
        result_type=GenerateSlotsResult,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return result.created
