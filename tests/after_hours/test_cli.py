"""`deskflow after-hours` as an operator runs it: a separate process against the server."""

from __future__ import annotations

import json

from tests.after_hours.helpers import case_until, intake, local, move_to, start
from tests.test_cli import deskflow


async def test_oncall_show_and_update_from_the_command_line(env, worker, sim, paging):
    code, out = await deskflow(
        env, worker, "after-hours", "oncall", "--at", "2026-12-08T23:00-05:00"
    )
    assert code == 0, out
    assert "CPS is closed" in out
    assert "dave → alice → leadership" in out  # Dave's override night, then the rotation
    code, out = await deskflow(env, worker, "after-hours", "oncall", "--at", "2026-12-09T12:00")
    assert code == 1 and "needs an offset" in out

    await move_to(env, sim, local(2026, 12, 11, 22))
    h = await start(env, worker.task_queue, intake("c-cli"))
    await case_until(h, lambda c: len(c.pages) == 1, "paged")
    code, out = await deskflow(env, worker, "after-hours", "show", "c-cli")
    assert code == 0 and json.loads(out)["pages"][0]["person"] == "alice"
    code, out = await deskflow(
        env, worker, "after-hours", "update", "c-cli", "acknowledge", "--json", '{"by": "bob"}'
    )
    assert code == 1 and "'bob' was not paged for this case" in out
    code, out = await deskflow(
        env, worker, "after-hours", "update", "c-cli", "acknowledge", "--json", '{"by": "alice"}'
    )
    assert code == 0 and json.loads(out)["acknowledged_by"] == "alice"
