"""The deskflow worker process: workflows and activities on their task queues.

Three workers share one client: the main queue (workflows, email, Slack, database), the
TDX queue and the TDX ticket-creation queue. The two TDX queues carry a task-queue rate
limit that the Temporal server enforces across every worker process, which is how N
workers together stay under TDX's per-minute limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.approver_digest import ApproverDigestActivities
from activities.email import EmailActivities
from activities.itsm import ItsmActivities, adapters_from_settings
from activities.outages import OutageActivities
from activities.partner_triage import TriageActivities
from activities.schedule_slots import ScheduleSlotActivities
from activities.slack import SlackActivities
from activities.slack_client import SlackClient
from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from activities.ticket_starts import TicketStartActivities
from activities.tickets_db import TicketDbActivities
from domain.settings import Settings, get_settings
from operations.temporal_client import connect
from store.db import make_engine, session_factory
from workflows import ALL_WORKFLOWS

log = logging.getLogger("deskflow.worker")


def build_workers(client: Client, settings: Settings) -> Sequence[Worker]:
    sessions = session_factory(make_engine(settings.database_url))
    tdx = TdxActivities(settings, sessions, TdxClient.from_settings(settings, timeout=20.0))
    db = TicketDbActivities(sessions)
    email = EmailActivities(settings, sessions)
    slack = SlackActivities(sessions, SlackClient.from_settings(settings))
    starts = TicketStartActivities(client, settings.task_queue, sessions)
    slots = ScheduleSlotActivities(client, sessions)
    digest = ApproverDigestActivities(settings, sessions, email)
    itsm = ItsmActivities(sessions, adapters_from_settings(settings), client)
    outages = OutageActivities(sessions, itsm.adapters, email)
    triage = TriageActivities(sessions, itsm.adapters)
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="deskflow-activity")
    main = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[
            db.load_ticket_context,
            db.project_ticket,
            db.record_event,
            db.book_slot,
            db.release_slot,
            email.send_email,
            slack.post_slack,
            starts.start_refresh_ticket,
            slots.generate_schedule_slots,
            slots.plan_slot_discovery,
            slots.signal_slots_available,
            digest.approver_digest_recipients,
            digest.send_approver_digest,
            itsm.load_desk,
            itsm.update_ticket,
            itsm.add_note,
            itsm.project_sla_clock,
            itsm.catch_up,
            outages.load_spec,
            outages.create_problem,
            outages.link_incidents,
            outages.resolve_incident,
            outages.project,
            triage.load_spec,
            triage.ticket_notes,
            triage.close_redirected,
            triage.project,
        ],
        activity_executor=executor,
    )
    tdx_calls = Worker(
        client,
        task_queue=settings.tdx_task_queue,
        activities=[
            tdx.create_task,
            tdx.complete_task,
            tdx.schedule_day1,
            tdx.add_feed,
            tdx.find_asset,
            tdx.delivery_progress,
            tdx.lookup_system,
        ],
        max_task_queue_activities_per_second=settings.tdx_max_calls_per_minute / 60,
    )
    tdx_creates = Worker(
        client,
        task_queue=settings.tdx_create_task_queue,
        activities=[tdx.create_ticket],
        max_task_queue_activities_per_second=settings.tdx_max_creates_per_minute / 60,
    )
    return [main, tdx_calls, tdx_creates]


async def run_workers(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    client = await connect(settings)
    workers = build_workers(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        log.info("worker polling %s at %s", settings.task_queue, settings.temporal_address)
        await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_workers())


if __name__ == "__main__":
    main()
