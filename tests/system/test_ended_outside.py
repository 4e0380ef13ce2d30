"""A ticket's workflow ended in Temporal, not by deskflow, as the dev server reports it (the
Problems view's path through the web app is in tests/web/test_api.py)."""

from __future__ import annotations

from uuid import uuid4

from domain.refresh import workflow_id
from operations import tickets


async def test_a_terminated_run_is_reported_with_its_reason(dev_env):
    client = dev_env.client
    stopped, running, unknown = (f"T{uuid4().hex[:10]}" for _ in range(3))
    for tid in (stopped, running):
        # No worker needed: a run nobody has picked up yet is running, and can be terminated.
        await client.start_workflow("RefreshTicket", id=workflow_id(tid), task_queue="nobody")
    await client.get_workflow_handle(workflow_id(stopped)).terminate(
        reason="stuck after a bad deploy"
    )

    checks = await tickets.check_open_tickets(client, [stopped, running, unknown])

    assert checks.stuck == []
    [ended] = checks.ended
    assert (ended.ticket_id, ended.how, ended.reason) == (
        stopped,
        "terminated",
        "stuck after a bad deploy",
    )
    assert ended.closed is not None
