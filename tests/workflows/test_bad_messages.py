"""No message can wedge a ticket (issue 8, points 1–6).

A bad update is refused with a message naming the field; a bad signal is dropped with an
audit entry saying what and why. In every case the workflow task completes, the `state`
query answers, and the ticket still takes the next good message.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
from collections.abc import Callable, Sequence

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.converter import PayloadCodec

from domain.refresh import SIGNALS, Status, TicketState, UpdateAck
from domain.settings import Settings
from operations.payload_codec import ENCODING, EncryptionCodec, parse_keys
from operations.temporal_client import data_converter
from tests.workflows.helpers import (
    SHIP_TO,
    invited,
    replacement,
    settle,
    start,
    state,
    ticket_input,
    until,
)


def dropped(s: TicketState) -> list[str]:
    return [a.detail for a in s.audits if a.action == "dropped signal"]


async def task_failures(handle: WorkflowHandle) -> list[str]:
    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return [
        e.workflow_task_failed_event_attributes.failure.message
        async for e in handle.fetch_history_events()
        if e.event_type == failed
    ]


async def ordering_ticket(env, worker) -> WorkflowHandle:
    """A no-customer ticket waiting in pending_ordering for its replacement."""
    handle = await start(env, worker, ticket_input("no_customer", "lab-loaners"))
    await until(handle, lambda s: s.setup_done, "setup")
    await settle(handle, Status.pending_ordering)
    return handle


async def refusal(update) -> str:
    """The message an SDK caller sees when the update is refused (within 10 s, not 15+)."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await asyncio.wait_for(update, 10)
    return refused.value.cause.message


class Forge(PayloadCodec):
    """A client whose payloads are encrypted, then bent by `bend` (an attacker, a client
    with another key, a bug); answers are read with the real codec."""

    def __init__(self, real: PayloadCodec, bend: Callable[[Payload], Payload]) -> None:
        self.real, self.bend = real, bend

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.bend(p) for p in await self.real.encode(payloads)]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.real.decode(payloads)


def forged_handle(handle: WorkflowHandle, settings: Settings, bend) -> WorkflowHandle:
    real = data_converter(settings)
    client = Client(
        handle._client.service_client,
        namespace=handle._client.namespace,
        data_converter=dataclasses.replace(real, payload_codec=Forge(real.payload_codec, bend)),
    )
    return client.get_workflow_handle(handle.id)


NEW_KEY = EncryptionCodec(parse_keys("k2:" + base64.b64encode(os.urandom(32)).decode()))


def _header(p: Payload) -> int:
    """Length of the key id that opens a sealed payload's data."""
    return 2 + p.data[1]


def random_bytes(p: Payload) -> Payload:
    n = _header(p)
    return Payload(metadata=dict(p.metadata), data=p.data[:n] + os.urandom(len(p.data) - n))


def no_key_id(p: Payload) -> Payload:
    return Payload(metadata={"encoding": ENCODING}, data=b"\0" + p.data[_header(p) :])


def truncated(p: Payload) -> Payload:
    return Payload(metadata=dict(p.metadata), data=p.data[:8])


BENDS = {
    "random bytes": (random_bytes, "not encrypted with key 'dev', or altered"),
    "no key id": (no_key_id, "no encryption key id"),
    "truncated": (truncated, "not encrypted with key 'dev', or altered"),
}


async def test_signal_with_no_payload_is_dropped_and_audited(env, worker, caplog):
    """Point 1: null, no argument (and two arguments) on every signal."""
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    handle = await ordering_ticket(env, worker)
    for name in SIGNALS:
        await handle.signal(name)
        await handle.signal(name, None)
        await handle.signal(name, args=[{}, {}])
    s = await until(handle, lambda s: len(dropped(s)) == 3 * len(SIGNALS), "every drop audited")
    model = SIGNALS["set_tracking"].__name__
    assert f"set_tracking: payload: expected one {model} object, got no argument" in dropped(s)
    assert f"set_tracking: payload: expected a {model} object, got null" in dropped(s)
    assert f"set_tracking: payload: expected one {model} object, got 2 arguments" in dropped(s)
    assert s.status == Status.pending_ordering and s.tracking_number is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"dropped signal set_tracking: payload: expected a {model} object, got null" in w
        for w in warnings
    ), warnings
    # Not wedged: the next good signal does its work.
    await handle.signal("assign_replacement", {"replacement": replacement("GOOD0001")})
    await settle(handle, Status.pending_itsm_existence)
    assert await task_failures(handle) == []


@pytest.mark.parametrize("bend", list(BENDS))
async def test_undecryptable_signal_is_dropped_and_update_refused(env, worker, bend):
    """Point 2: a payload the codec cannot decrypt is one refused message, not a stuck ticket."""
    handle = await ordering_ticket(env, worker)
    fn, reason = BENDS[bend]
    bad = forged_handle(handle, worker, fn)
    await bad.signal("set_tracking", {"tracking_number": "1Z999"})
    s = await until(handle, lambda s: dropped(s), "drop audited")
    assert dropped(s) == [f"set_tracking: payload: could not be decrypted ({reason})"]
    message = await refusal(bad.execute_update("hold", {"actor": "nit-lead"}))
    assert message == f"payload: could not be decrypted ({reason})"
    assert (await state(handle)).status == Status.pending_ordering
    await handle.signal("set_tracking", {"tracking_number": "1Z999"})
    await until(handle, lambda s: s.tracking_number == "1Z999", "good signal applied")
    assert await task_failures(handle) == []


async def test_mid_key_rotation_a_message_under_a_key_the_worker_lacks_is_refused(env, worker):
    """Point 2: a client already encrypting with a key the workers do not have yet."""
    handle = await ordering_ticket(env, worker)
    real = data_converter(worker)
    client = Client(
        handle._client.service_client,
        namespace=handle._client.namespace,
        data_converter=dataclasses.replace(real, payload_codec=NEW_KEY),
    )
    early = client.get_workflow_handle(handle.id)
    await early.signal("set_tracking", {"tracking_number": "1Z999"})
    s = await until(handle, lambda s: dropped(s), "drop audited")
    assert dropped(s) == ["set_tracking: payload: could not be decrypted (unknown key id 'k2')"]
    assert s.tracking_number is None
    assert await task_failures(handle) == []


@pytest.mark.parametrize("update", ["hold", "release", "cancel"])
async def test_update_with_null_payload_is_refused_at_once(env, worker, update):
    """Point 3: hold, release, cancel with None are refused, not a failed workflow task."""
    handle = await ordering_ticket(env, worker)
    if update == "release":
        await handle.execute_update("hold", {"actor": "nit-lead"})
    before = await state(handle)
    message = await refusal(handle.execute_update(update, None))
    model = {"hold": "Hold", "release": "Release", "cancel": "Cancel"}[update]
    assert message == f"payload: expected a {model} object, got null"
    assert await refusal(handle.execute_update(update)) == (
        f"payload: expected one {model} object, got no argument"
    )
    assert await state(handle) == before
    assert await task_failures(handle) == []


async def test_megabyte_actor_is_refused_and_never_stored(env, worker):
    """Point 4: string fields have length limits; the audits stay small."""
    handle = await ordering_ticket(env, worker)
    huge = "x" * 1_000_000
    await handle.signal("set_tracking", {"tracking_number": "1Z999", "actor": huge})
    s = await until(handle, lambda s: dropped(s), "drop audited")
    assert dropped(s) == ["set_tracking: actor: String should have at most 200 characters"]
    assert s.tracking_number is None
    assert len(s.model_dump_json()) < 20_000
    message = await refusal(handle.execute_update("hold", {"actor": "nit-lead", "reason": huge}))
    assert message == "reason: String should have at most 2000 characters"
    # Later updates with ordinary fields still go through.
    ack = UpdateAck.model_validate(await handle.execute_update("hold", {"actor": "nit-lead"}))
    assert ack.status == Status.on_hold
    assert await task_failures(handle) == []


@pytest.mark.parametrize(
    ("update", "payload", "message"),
    [
        (
            "submit_wizard",
            {"shipping_address": SHIP_TO | {"state": "XX"}},
            "shipping_address.state: 'XX' is not a US state or territory code (e.g. MI)",
        ),
        (
            "cancel",
            {"actor": "admin", "reason": "done", "reasn": "typo"},
            "reasn: Extra inputs are not permitted",
        ),
        ("pick_slot", {"slot_id": "soon"}, "slot_id: Input should be a valid integer"),
        ("approve", ["appr1"], "payload: Input should be an object"),
        (
            "edit",
            {"role": "approver", "software": ["x" * 201]},
            "actor: Field required; software[0]: String should have at most 200 characters",
        ),
        ("nudge", {}, "unknown update 'nudge'; a ticket takes submit_wizard, provide_location"),
    ],
    ids=["bad-state", "extra-field", "wrong-type", "not-an-object", "two-faults", "unknown"],
)
async def test_malformed_update_is_refused_naming_the_field(env, worker, update, payload, message):
    """Point 5: the caller sees the field and the reason, not "Failed decoding arguments"."""
    handle = await ordering_ticket(env, worker)
    assert (await refusal(handle.execute_update(update, payload))).startswith(message)
    assert await task_failures(handle) == []


async def test_change_requests_at_the_same_time_each_get_their_own_tdx_ticket(env, worker, sim):
    """Point 6: handlers that wait on an activity run one at a time, so two change requests
    sent together (TDX slow to answer) make two TDX tickets, not one under the same key."""
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    await invited(env, handle)
    await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
    await settle(handle, Status.pending_approval)
    await handle.execute_update("approve", {"approver": "appr1"})
    await settle(handle, Status.pending_ordering)

    sim.tdx.fail("POST", r"/tickets$", "timeout", delay=1.0, count=2)
    asks = [{"approver": "appr1", "description": f"Add monitor number {n}"} for n in (1, 2)]
    ids = await asyncio.gather(*(handle.execute_update("request_change", a) for a in asks))
    assert len(set(ids)) == 2
    keys = {
        key
        for t in sim.tdx.tickets.values()
        for key in (1, 2, 3)
        if f"[deskflow:{inp.ticket_id}:change-request:{key}]" in t.get("Description", "")
    }
    assert keys == {1, 2}
    descriptions = [sim.tdx.tickets[i]["Description"] for i in ids]
    assert sorted(d.splitlines()[0] for d in descriptions) == [
        "From approver appr1: Add monitor number 1",
        "From approver appr1: Add monitor number 2",
    ]
    s = await state(handle)
    audited = [a.detail for a in s.audits if a.action == "change requested"]
    assert sorted(audited) == sorted(f"TDX {i}" for i in ids)
    assert await task_failures(handle) == []
