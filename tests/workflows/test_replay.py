"""Replay recorded histories of the main paths against today's workflow code.

A change to `workflows/` that would break tickets already running (a non-deterministic
change) fails here. The histories in `histories/` are real runs of this suite, with payloads
encrypted by the codec exactly as the worker writes them (key from secret_key
"test-secret"). Regenerate them after an intended, versioned change of the workflow:

    REGENERATE_HISTORIES=1 .venv/bin/python -m pytest tests/workflows
    .venv/bin/python -m pytest tests/workflows/test_replay.py

With the variable set, the tests that reach the end of a main path save their history
(`helpers.save_history`), and the test below re-runs the on-prem lifecycle to record it.
"""

from __future__ import annotations

import os

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from operations.temporal_client import data_converter
from tests.workflows.helpers import HISTORIES, save_history, start
from workflows import ALL_WORKFLOWS

REGENERATE = os.environ.get("REGENERATE_HISTORIES") == "1"
MAIN_PATHS = {
    "on_prem_complete",
    # The same path recorded after the `search-attributes-from-sync` patch (new runs).
    "on_prem_complete_attributes_from_sync",
    # ... and after the `projection-after-reply` patch (the projection follows the reply).
    "on_prem_complete_projection_after_reply",
    # ... and with compressed payloads, the acknowledgement as the run's result and the first
    # search-attribute write of a run cut to what the start did not set.
    "on_prem_complete_compressed_ack",
    # ... and after the `sync-after-reply` patch (an update's search attributes wait for its
    # reply too; one marker stands for the two patches before it).
    "on_prem_complete_sync_after_reply",
    # ... and after the `follow-up-after-reply` patch (what a customer's Confirm sets off
    # waits for its reply and its row).
    "on_prem_complete_follow_up_after_reply",
    "on_prem_cancelled",
    # TDX refused the ticket for good: cancelled with the reason, then failed (the
    # `setup-refusal-shown` patch).
    "setup_refused",
    # ... and the same ticket started again once put right: a run that goes on from the
    # failed run's audits and row (`activities/ticket_starts.py`, `_start_again`).
    "restarted_after_refusal",
    # Staff sent the invite at once (the `send_invite_now` update).
    "send_invite_now",
    "remote_delegate_complete",
    "remote_can_run1",
    "remote_can_last_run",
    "no_customer_complete",
    "unit_location_complete",
    "batch_complete",
    "generate_schedule_slots",
    "discover_schedule_slots",
    "approver_digest",
    # An edited config reloaded by a running ticket (the `config-reload` patch).
    "config_reload_approved",
    "system_lookup",
    "sla_clock_halo",
    "service_desk_ticket_halo",
    "provisioning_7_to_8a_closed",
    "provisioning_8d_reminded_closed",
    "provisioning_report",
    "after_hours_aims_acknowledged",
    "after_hours_gds_leadership",
    "outage_resolved",
    "partner_triage_boomerang_servicenow",
    "partner_triage_boomerang_halo",
    "itsm_lookup_found",
    "itsm_lookup_missing",
    # A clock whose ticket was deleted in Halo: writes refused for good, recorded.
    "sla_clock_deleted_ticket",
}


def recorded() -> list:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.skipif(not REGENERATE, reason="set REGENERATE_HISTORIES=1 to record histories")
async def test_record_on_prem_history(env, worker, sim, monkeypatch):
    """Run the on-prem lifecycle test once more and keep its history (under the name of
    the newest patch it runs through: older recordings stay, for the runs they stand for)."""
    from tests.workflows import test_on_prem_lifecycle as on_prem

    handles = []

    async def recording_start(*args):
        handles.append(await start(*args))
        return handles[-1]

    monkeypatch.setattr(on_prem, "start", recording_start)
    await on_prem.test_on_prem_ticket_lives_its_whole_life(env, worker, sim)
    await save_history(handles[0], "on_prem_complete_follow_up_after_reply")


@pytest.mark.skipif(REGENERATE, reason="histories are being recorded")
def test_every_main_path_has_a_recorded_history():
    assert {p.stem for p in recorded()} >= MAIN_PATHS


@pytest.mark.skipif(REGENERATE, reason="histories are being recorded")
@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path, settings):
    history = WorkflowHistory.from_json(f"refresh-{path.stem}", path.read_text())
    kind = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
    assert kind in {w.__temporal_workflow_definition.name for w in ALL_WORKFLOWS}
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(settings))
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
