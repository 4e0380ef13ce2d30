"""The refresh lifecycle's branches against activity fakes: fast, no database, no stand-ins.

The workflow is the real one in the real sandbox on the time-skipping server; every activity
is a small `@activity.defn(name=...)` fake that records what it was asked (as
samples-python does). The integration paths (real TDX, SMTP, Slack, database) keep their own
tests beside this file; these cover the branches of the story: which emails, which TDX
calls, which status follows which.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import uuid4

import pytest
from temporalio import activity
from temporalio.worker import Worker

from domain.activity_requests import AssetFound, EmailResult, TdxTicketCreated
from domain.business_calendar import BusinessCalendar
from domain.refresh import (
    ApprovedModel,
    Approver,
    BookedSlot,
    ConfigView,
    RefreshOptions,
    Status,
    TeamView,
    TicketContext,
)
from domain.tdx_queues import SUFFIX, tdx_queue
from tests.workflows.helpers import local, move_clock_to, reach, ticket_input, until
from workflows import ALL_WORKFLOWS


class Fakes:
    """Every activity the ticket calls, answering at once and keeping each call's input."""

    def __init__(self, requires_approval: bool) -> None:
        self.calls: dict[str, list[Any]] = defaultdict(list)
        self.requires_approval = requires_approval

    def made(self, name: str) -> list[Any]:
        return self.calls[name]

    def activities(self) -> list[Any]:
        fakes = self

        @activity.defn(name="load_ticket_context")
        async def load_ticket_context(req: Any) -> TicketContext:
            fakes.calls["load_ticket_context"].append(req)
            return TicketContext(
                config=ConfigView(
                    id="fake",
                    name="Fake refresh",
                    org="LSA",
                    requires_approval=fakes.requires_approval,
                    approvers=[Approver(uniqname="appr1", name="A. Prover", email="a@x.edu")],
                    options=RefreshOptions(),
                    approved_models=[
                        ApprovedModel(org="LSA", platform="windows", model="Dell Latitude 7450")
                    ],
                    proposed_models={"windows": "Dell Latitude 7450"},
                ),
                team=TeamView(id="nit-central", name="NIT", slack_channel="#nit"),
                calendar=BusinessCalendar(day_start=time(5), day_end=time(18)),
            )

        def recorder(name: str, answer: Any = None):
            @activity.defn(name=name)
            async def record(req: Any) -> Any:
                fakes.calls[name].append(req)
                return answer(req) if callable(answer) else answer

            return record

        def email(req: Any) -> EmailResult:
            return EmailResult(
                to="jdoe@example.edu", sent_at=datetime.now(UTC), message_id="m", already_sent=False
            )

        def booked(req: Any) -> BookedSlot:
            start = datetime(2027, 3, 15, 14, tzinfo=UTC)
            return BookedSlot(
                slot_id=1, start=start, end=start + timedelta(hours=1), location="Depot"
            )

        return [
            load_ticket_context,
            recorder("project_ticket"),
            recorder("record_event"),
            recorder("book_slot", booked),
            recorder("release_slot"),
            recorder("send_email", email),
            recorder("post_slack"),
            recorder(
                "tdx_create_ticket",
                TdxTicketCreated(tdx_ticket_id=100001, url="http://tdx/1", created=True),
            ),
            recorder("tdx_create_task", lambda req: 200 + len(fakes.calls["tdx_create_task"])),
            recorder("tdx_complete_task"),
            recorder("tdx_schedule_day1"),
            recorder("tdx_add_feed"),
            recorder("tdx_find_asset", AssetFound(asset_id=7, serial="NEW1")),
            recorder("tdx_delivery_progress", "closed"),
        ]


@contextlib.asynccontextmanager
async def fake_worker(env, fakes: Fakes):
    """One worker per queue the ticket uses (main + the paced TDX queues), all fakes."""
    queue = f"fake-{uuid4().hex[:8]}"
    acts = fakes.activities()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(env.client, task_queue=queue, workflows=ALL_WORKFLOWS, activities=acts)
        )
        for kind in SUFFIX:
            await stack.enter_async_context(
                Worker(env.client, task_queue=tdx_queue(queue, kind), activities=acts)
            )
        yield queue


async def started(env, queue: str, **kw: Any):
    inp = ticket_input(**kw)
    handle = await env.client.start_workflow(
        "RefreshTicket", inp, id=f"refresh-{inp.ticket_id}", task_queue=queue
    )
    return inp, handle


REPLACEMENT = {"serial": "NEW1", "platform": "windows", "model": "Dell Latitude 7450"}
WIZARD = {
    "location": "Angell Hall, 2001",
    "device": {"model": "Dell Latitude 7450", "platform": "windows"},
}


@pytest.mark.parametrize(
    ("style", "approval", "first", "after_wizard"),
    [
        ("on_prem", True, Status.pending_invite, Status.pending_approval),
        ("on_prem", False, Status.pending_invite, Status.pending_ordering),
        ("unit_location", False, Status.pending_invite, Status.pending_ordering),
        ("no_customer", False, Status.pending_ordering, None),
    ],
)
async def test_the_story_branches_by_style_and_approval(env, style, approval, first, after_wizard):
    fakes = Fakes(requires_approval=approval)
    await move_clock_to(env, local(2027, 3, 1, 14, 0))  # a Monday afternoon
    async with fake_worker(env, fakes) as queue:
        inp, handle = await started(env, queue, style=style, config_id="fake")
        s = await until(handle, lambda s: s.setup_done and s.status == first, first.value)
        # Set-up: one TDX ticket and its three tasks; on-prem also tells the team on Slack.
        assert len(fakes.made("tdx_create_ticket")) == 1
        tasks = sorted(t["kind"] for t in fakes.made("tdx_create_task"))
        assert tasks == ["build", "deliver", "prestage"]
        assert len(fakes.made("post_slack")) == (1 if style == "on_prem" else 0)
        if after_wizard is None:
            assert s.invite_at is None  # no customer: no invite, ever
        else:
            assert s.invite_at == local(2027, 3, 2, 10, 5)  # next business day, 10:05
            await env.sleep(s.invite_at - await env.get_current_time() + timedelta(seconds=1))
            await reach(handle, Status.pending_wizard)
            assert [e["template"] for e in fakes.made("send_email")] == ["invite"]
            body = WIZARD if style == "on_prem" else {"device": WIZARD["device"]}
            await handle.execute_update("submit_wizard", body)
            s = await reach(handle, after_wizard)
            if approval:
                await handle.execute_update("approve", {"approver": "appr1"})
                await reach(handle, Status.pending_ordering)
        await handle.signal("assign_replacement", {"replacement": REPLACEMENT})
        # Found in TDX assets at once: straight past pending_itsm_existence. No customer: a
        # generic slot, and the daily TDX check (a closed ticket, here) completes it.
        want = Status.complete if style == "no_customer" else Status.pending_slot_discovery
        s = await reach(handle, want)
        after = [a.to_status for a in s.audits if a.action == "status"][-3:]
        if style == "no_customer":
            assert after == ["pending_itsm_existence", "delivery_scheduled", "complete"]
        assert [r["serial"] for r in fakes.made("tdx_find_asset")] == ["NEW1"]
        # A Windows replacement is prestaged: its TDX task is closed.
        assert len(fakes.made("tdx_complete_task")) == 1
        if style == "no_customer":
            assert fakes.made("send_email") == []


async def test_a_held_ticket_sends_nothing_until_released(env):
    fakes = Fakes(requires_approval=False)
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    async with fake_worker(env, fakes) as queue:
        inp, handle = await started(env, queue, style="remote", config_id="fake")
        s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "set up")
        await handle.execute_update("hold", {"actor": "lead"})
        await env.sleep(timedelta(days=3))
        s = await reach(handle, Status.on_hold)
        assert fakes.made("send_email") == []
        await handle.execute_update("release", {"actor": "lead"})
        s = await reach(handle, Status.pending_invite)
        assert s.invite_at is not None and s.invite_at > local(2027, 3, 4, 14, 0)
