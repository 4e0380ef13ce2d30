"""The deskflow worker process: workflows and activities on their task queues.

Workers share one client: the main queue (workflows, email, Slack, database) and one queue
per rate-limited TDX method (`domain.tdx_queues`). Each TDX queue carries a task-queue rate
limit that the Temporal server enforces across every worker process, at TDX's own pace, and
every TDX call takes its place in a window count the workers share in the app database,
which is how N workers together stay under each of TDX's per-method limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.after_hours import AfterHoursActivities
from activities.approver_digest import ApproverDigestActivities
from activities.batch_lines import BatchLineActivities
from activities.email import EmailActivities
from activities.itsm import ItsmActivities, adapters_from_settings
from activities.outages import OutageActivities
from activities.pagerduty_client import PagerDutyEvents
from activities.partner_triage import TriageActivities
from activities.provisioning import ProvisioningActivities
from activities.schedule_slots import ScheduleSlotActivities
from activities.slack import SlackActivities
from activities.slack_client import SlackClient
from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from activities.ticket_starts import TicketStartActivities
from activities.tickets_db import TicketDbActivities
from domain.settings import Settings, get_settings
from operations import itsm_delivery, json_logs, telemetry, worker_health
from operations.deployment_checks import prepare_process
from operations.long_lived import freeze_startup_heap
from operations.temporal_client import connect
from store.db import make_engine, session_factory
from workflows import ALL_WORKFLOWS

log = logging.getLogger("deskflow.worker")


def build_workers(client: Client, settings: Settings) -> Sequence[Worker]:
    sessions = session_factory(make_engine(settings.database_url))
    tdx = TdxActivities(settings, sessions, TdxClient.from_settings(settings))
    db = TicketDbActivities(sessions)
    email = EmailActivities(settings, sessions)
    slack = SlackActivities(settings, sessions, SlackClient.from_settings(settings))
    starts = TicketStartActivities(client, settings.task_queue, sessions)
    slots = ScheduleSlotActivities(client, sessions)
    digest = ApproverDigestActivities(settings, sessions, email)
    batch_lines = BatchLineActivities(sessions)
    adapters = adapters_from_settings(settings)
    itsm = ItsmActivities(sessions, adapters, functools.partial(itsm_delivery.deliver, client))
    prov = ProvisioningActivities(settings, sessions, adapters)
    after_hours = AfterHoursActivities(
        settings, sessions, adapters, PagerDutyEvents(settings.pagerduty_events_url)
    )
    outages = OutageActivities(sessions, adapters, email)
    triage = TriageActivities(sessions, adapters)
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
            batch_lines.read_batch_lines,
            slots.generate_schedule_slots,
            slots.plan_slot_discovery,
            slots.signal_slots_available,
            digest.approver_digest_recipients,
            digest.send_approver_digest,
            itsm.load_desk,
            itsm.get_ticket,
            itsm.update_ticket,
            itsm.add_note,
            itsm.project_sla_clock,
            itsm.catch_up,
            prov.setup,
            prov.save_details,
            prov.erase_secrets,
            prov.record_time,
            prov.project,
            prov.resolve,
            prov.compliance,
            after_hours.load,
            after_hours.open_ticket,
            after_hours.pagerduty_event,
            after_hours.project,
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
        max_cached_workflows=settings.worker_cache_size,
    )
    tdx_workers = [
        Worker(
            client,
            task_queue=settings.tdx_queue(kind),
            activities=activities,
            max_task_queue_activities_per_second=settings.tdx_queue_rate(kind),
        )
        for kind, activities in (
            ("calls", [tdx.complete_task, tdx.schedule_day1, tdx.add_feed, tdx.delivery_progress]),
            ("ticket_create", [tdx.create_ticket]),
            ("task_create", [tdx.create_task]),
            ("asset_search", [tdx.find_asset, tdx.lookup_system]),
        )
    ]
    return [main, *tdx_workers]


async def run_workers(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    prepare_process(settings, "worker")
    telemetry.configure_tracing(settings, "deskflow-worker")
    client = await connect(settings)
    workers = build_workers(client, settings)
    freeze_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        await stack.enter_async_context(worker_health.serve(settings, client, workers))
        log.info("worker polling %s at %s", settings.task_queue, settings.temporal_address)
        await stop.wait()


def main() -> None:
    json_logs.configure(get_settings())
    asyncio.run(run_workers())
    # The workers have shut down cleanly; skip interpreter teardown, which the SDK's Rust
    # threads can abort (sdk-python#300), so a service manager sees a clean exit.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
