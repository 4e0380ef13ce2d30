"""ApproverDigest: one email per approver on Fridays only, pending_approval first."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.scheduled_jobs import DIGEST_SCHEDULE_ID, ApproverDigestResult
from starter.schedules import schedule_definitions
from tests.schedules.helpers import new_config, project
from tests.workflows.helpers import local, move_clock_to, save_history


async def run_scheduled_action(env, settings) -> ApproverDigestResult:
    """Start exactly what the `approver-digest` schedule starts, now."""
    action = schedule_definitions(settings)[DIGEST_SCHEDULE_ID].action
    with env.auto_time_skipping_disabled():
        handle = await env.client.start_workflow(
            action.workflow,
            *action.args,
            id=f"digest-{uuid4().hex[:8]}",
            task_queue=action.task_queue,
        )
        result = ApproverDigestResult.model_validate(await handle.result())
        await save_history(handle, "approver_digest")
        return result


def digests_to(sim, email: str):
    return sim.mail.find(to=email, template="approver_digest")


async def test_digest_goes_out_on_fridays_only(env, worker, sim):
    tag = uuid4().hex[:6]
    ada = {"uniqname": f"ada{tag}", "name": "Ada Approver", "email": f"ada{tag}@example.edu"}
    quiet = {"uniqname": f"q{tag}", "name": "Quiet Approver", "email": f"q{tag}@example.edu"}
    config = new_config(worker, [ada])
    new_config(worker, [quiet])  # a config without tickets: its approver gets nothing
    other = new_config(worker, [ada])  # a second config of the same approver: same email

    await move_clock_to(env, local(2027, 3, 4, 6, 0))  # Thursday
    now = await env.get_current_time()
    rows = {
        f"{tag}-ord": ("pending_ordering", config, now - timedelta(days=20), None),
        f"{tag}-ap1": ("pending_approval", config, now - timedelta(days=10), None),
        f"{tag}-ap2": ("pending_approval", other, now - timedelta(days=5), None),
        f"{tag}-day": ("delivery_scheduled", config, now - timedelta(days=30), None),
        f"{tag}-done": ("complete", config, now - timedelta(days=40), now - timedelta(days=2)),
        f"{tag}-old": ("cancelled", config, now - timedelta(days=90), now - timedelta(days=30)),
    }
    for tid, (status, cfg, created, updated) in rows.items():
        project(
            worker,
            tid,
            status=status,
            config_id=cfg,
            created_at=created,
            updated_at=updated or now,
            user_name=f"User {tid}",
            day1=local(2027, 3, 9, 9, 0) if status == "delivery_scheduled" else None,
            replacement_serial="NEWX1" if status == "delivery_scheduled" else None,
        )

    # Thursday 22:00 in Detroit is already Friday in UTC: still not Friday here.
    for when in (local(2027, 3, 4, 7, 0), local(2027, 3, 4, 22, 0)):
        await move_clock_to(env, when)
        result = await run_scheduled_action(env, worker)
        assert not result.is_friday and result.sent == []
    assert digests_to(sim, ada["email"]) == []

    await move_clock_to(env, local(2027, 3, 5, 7, 0))  # Friday 07:00, as scheduled
    result = await run_scheduled_action(env, worker)
    assert result.is_friday and str(result.day) == "2027-03-05"
    mine = [s for s in result.sent if s.uniqname == ada["uniqname"]]
    assert [(s.email, s.tickets, s.already_sent) for s in mine] == [(ada["email"], 5, False)]
    assert quiet["uniqname"] not in [s.uniqname for s in result.sent]
    assert digests_to(sim, quiet["email"]) == []

    [mail] = digests_to(sim, ada["email"])
    assert mail.ticket is None and mail.template == "approver_digest"
    assert mail.subject == "Refresh tickets you approve: 5 this week, 2 awaiting your approval"
    text = mail.text
    headings = [
        "Waiting for approval (2)",
        "Waiting for a replacement computer (1)",
        "Appointment booked (1)",
        "Complete (1)",
    ]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions), text
    assert text.index(f"{tag}-ap1") < text.index(f"{tag}-ap2")  # oldest first within a status
    assert f"{tag}-old" not in text  # cancelled a month ago: nothing to report
    for tid in (f"{tag}-ord", f"{tag}-ap1", f"{tag}-ap2", f"{tag}-day", f"{tag}-done"):
        assert f"http://deskflow.test/approver/tickets/{tid}" in text
        assert f'href="http://deskflow.test/approver/tickets/{tid}"' in mail.html
    assert "day 1 Tue Mar 9, 9:00 AM" in text
    assert "Weekly approver digest" in mail.html and "Computer refresh" not in mail.html

    # The schedule fires again the same Friday (catch-up, manual trigger): nothing new.
    again = await run_scheduled_action(env, worker)
    assert [s.already_sent for s in again.sent if s.uniqname == ada["uniqname"]] == [True]
    assert len(digests_to(sim, ada["email"])) == 1

    # Next Friday: a new digest.
    await move_clock_to(env, local(2027, 3, 12, 7, 0))
    await run_scheduled_action(env, worker)
    assert len(digests_to(sim, ada["email"])) == 2
