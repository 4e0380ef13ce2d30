"""`deskflow provisioning ...` as an operator runs it: a separate process."""

from __future__ import annotations

from tests.itsm.helpers import local, move_to
from tests.provisioning.helpers import CAT_8B, DOMAIN_PASSWORD, exhibit, handle, wait_state
from tests.test_cli import deskflow


async def test_show_update_gauge_and_rotate(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Laptop from the CLI", category_1=CAT_8B)
    tid = str(t["id"])
    await wait_state(handle(env, tid), lambda s: s.status is not None, "intake")

    code, text = await deskflow(env, settings, "provisioning", "show", tid)
    assert code == 0 and '"status": "provisioning"' in text
    code, text = await deskflow(
        env, settings, "provisioning", "update", tid, "assign", "--as", "pat", "--json",
        '{"analyst": "alex"}',
    )  # fmt: skip
    assert code == 1 and "Care Team or Provisioning Specialist" in text
    code, text = await deskflow(
        env, settings, "provisioning", "update", tid, "assign", "--as", "casey", "--json",
        '{"analyst": "alex", "analyst_email": "alex.analyst@example.org"}',
    )  # fmt: skip
    assert code == 0 and '"analyst": "alex"' in text
    import json

    details = json.dumps({"details": exhibit(serial_number="?")})
    code, text = await deskflow(
        env, settings, "provisioning", "update", tid, "submit_details", "--as", "alex",
        "--json", details,
    )  # fmt: skip
    assert code == 1 and "serial_number" in text and DOMAIN_PASSWORD not in text
    code, text = await deskflow(
        env, settings, "provisioning", "update", tid, "submit_details", "--as", "alex",
        "--json", json.dumps({"details": exhibit()}),
    )  # fmt: skip
    assert code == 0 and '"passwords_recorded": true' in text and DOMAIN_PASSWORD not in text

    code, text = await deskflow(env, settings, "provisioning", "gauge", "--month", "2026-13")
    assert code == 1 and "YYYY-MM" in text
    code, text = await deskflow(env, settings, "provisioning", "gauge", "--month", "2026-12")
    assert code == 0 and '"month": "2026-12"' in text
    code, text = await deskflow(env, settings, "provisioning", "rotate-keys")
    assert code == 0 and "re-encrypted under key 'dev'" in text
