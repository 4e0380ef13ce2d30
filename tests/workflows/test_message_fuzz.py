"""Fuzz: thousands of generated bad messages to running tickets; none wedges one (issue 8).

Hypothesis generates the messages (every update and signal name, plus unknown names): no
argument, null, two arguments, not an object, an unknown field, a field of the wrong type,
a required field missing or null, a value the rules refuse, strings past every length
limit (a megabyte for updates), and payloads the codec cannot decrypt (random bytes, no key
id, truncated, a key the workers do not have). They go, in concurrent batches, to tickets
waiting in two statuses on one dev server with the real worker. Then: no WorkflowTaskFailed
in any history, every `state` query answers, every update was refused with a reason (never
"Failed decoding arguments"), every signal was dropped with exactly one audit entry, and
nothing else about any ticket changed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from domain.refresh import SIGNALS, UPDATES, Status, TicketState
from operations.payload_codec import ENCODING, EncryptionCodec, parse_keys
from operations.temporal_client import data_converter
from starter.dev_server import temporal_binary
from tests.workflows.helpers import SHIP_TO, replacement, settle, start, ticket_input, until
from tests.workflows.test_bad_messages import Forge

MESSAGES = 5_200
BATCH = 100
IN_FLIGHT = 100
TICKETS = 12

# One well-formed message per name; every mutation below makes it invalid.
VALID: dict[str, dict[str, Any]] = {
    "submit_wizard": {
        "location": "Angell Hall, 2001",
        "shipping_address": SHIP_TO,
        "device": {"model": "Dell Latitude 7450", "platform": "windows"},
        "peripherals": ["Dock WD22TB4"],
        "software": ["MATLAB"],
        "actor": "customer",
    },
    "provide_location": {"actor": "nit-lead", "location": "Mason Hall, 3300"},
    "approve": {"approver": "appr1", "comment": "fine"},
    "reject": {"approver": "appr1", "comment": "no budget"},
    "edit": {"actor": "admin", "role": "refresh_admin", "software": ["SPSS"]},
    "request_change": {"approver": "appr1", "description": "Add a second monitor."},
    "pick_slot": {"slot_id": 4, "actor": "customer"},
    "reschedule": {"slot_id": 4, "actor": "nit-lead", "reason": "sick"},
    "hold": {"actor": "nit-lead", "reason": "on leave"},
    "release": {"actor": "nit-lead"},
    "cancel": {"actor": "admin", "reason": "retired"},
    "send_invite_now": {"actor": "nit-lead", "reason": "the customer asked for the link"},
    "assign_replacement": {"replacement": replacement("FUZZ0001"), "group": "G1"},
    "exchange_replacement": {"replacement": replacement("FUZZ0002"), "actor": "admin"},
    "slots_available": {
        "slots": [
            {
                "slot_id": 4,
                "start": "2030-01-07T14:00:00Z",
                "end": "2030-01-07T15:00:00Z",
                "location": "Central Depot",
                "free": 2,
            }
        ]
    },
    "set_tracking": {"tracking_number": "1Z999AA1", "carrier": "UPS", "actor": "order-group"},
    "trigger_customer_reschedule": {"actor": "nit-lead", "reason": "slot deleted"},
    "config_changed": {"config_id": "lsa-onprem", "version": 2, "actor": "admin"},
}
NAMES = sorted(VALID)
assert set(NAMES) == set(UPDATES) | set(SIGNALS)
# Values the contract's rules refuse, by field (wherever the field occurs).
BAD_VALUES: dict[str, list[Any]] = {
    "state": ["XX", "Michigan", ""],
    "postal_code": ["4810", "ABCDE"],
    "slot_id": [0, -5],
    "tracking_number": ["ab", ""],
    "description": ["hi"],
    "platform": ["linux", ""],
    "role": ["root"],
    "actor": ["", "   "],
    "approver": [""],
    "serial": [""],
}
HUGE = 1_000_000


@dataclass(frozen=True)
class Message:
    name: str
    kind: str  # what makes it bad, for the summary
    args: tuple[Any, ...]
    bend: str | None = None  # send through a client whose payloads the workers cannot decrypt

    @property
    def is_update(self) -> bool:
        return self.name in UPDATES or (self.name.startswith("~u") and self.name not in SIGNALS)


def _string_paths(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _field_paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path] if path else []
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in _field_paths(v, (*path, k))]
    return found


def _with(value: Any, path: tuple, new: Any) -> Any:
    """A copy of `value` with the leaf at `path` replaced (`...` deletes it)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if not rest and new is ...:
            del out[head]
        else:
            out[head] = _with(value[head], rest, new)
        return out
    out = list(value)
    out[head] = _with(value[head], rest, new)
    return out


def _bad_values(name: str) -> list[tuple[tuple, Any]]:
    return [
        (p, bad)
        for p in _field_paths(VALID[name])
        for bad in BAD_VALUES.get(str(p[-1]), [])
        if isinstance(p[-1], str)
    ]


def _required(name: str) -> list[str]:
    model = {**UPDATES, **SIGNALS}[name]
    return [f for f, info in model.model_fields.items() if info.is_required()]


@st.composite
def bad_message(draw) -> Message:
    name = draw(st.sampled_from(NAMES))
    valid = VALID[name]
    kinds = ["no_argument", "null", "two_arguments", "not_an_object", "unknown_field"]
    kinds += ["wrong_type", "too_long", "undecryptable", "unknown_name"]
    kinds += ["missing_field", "null_field"] if _required(name) else []
    kinds += ["refused_value"] if _bad_values(name) else []
    kind = draw(st.sampled_from(kinds))
    if kind == "no_argument":
        return Message(name, kind, ())
    if kind == "null":
        return Message(name, kind, (None,))
    if kind == "two_arguments":
        return Message(name, kind, (valid, draw(st.sampled_from([valid, None, 7]))))
    if kind == "not_an_object":
        scalar = st.one_of(st.text(max_size=50), st.integers(), st.booleans(), st.floats())
        return Message(name, kind, (draw(st.one_of(scalar, st.lists(scalar, max_size=3))),))
    if kind == "unknown_field":
        key = draw(st.one_of(st.text(min_size=1, max_size=30), st.just("k" * 5000)))
        key = key if key not in valid else f"~{key}"
        return Message(name, kind, ({**valid, key: draw(st.integers())},))
    if kind == "wrong_type":
        path = draw(st.sampled_from(_field_paths(valid)))
        wrong = draw(
            st.one_of(
                st.lists(st.integers(), min_size=1, max_size=3),
                st.dictionaries(st.text(max_size=5).map("~".__add__), st.integers(), min_size=1),
            )
        )
        return Message(name, kind, (_with(valid, path, wrong),))
    if kind == "too_long":
        path = draw(st.sampled_from(_string_paths(valid)))
        # A megabyte only for updates: a refused update leaves no history, a signal does.
        size = draw(st.sampled_from([4_001, 20_000] + ([HUGE] if name in UPDATES else [])))
        char = "x" if size == HUGE else draw(st.sampled_from("xé漢"))
        return Message(name, kind, (_with(valid, path, char * size),))
    if kind == "missing_field":
        return Message(name, kind, (_with(valid, (draw(st.sampled_from(_required(name))),), ...),))
    if kind == "null_field":
        return Message(name, kind, (_with(valid, (draw(st.sampled_from(_required(name))),), None),))
    if kind == "refused_value":
        path, bad = draw(st.sampled_from(_bad_values(name)))
        return Message(name, kind, (_with(valid, path, bad),))
    if kind == "undecryptable":
        bend = draw(st.sampled_from(sorted(BENDS)))
        return Message(name, kind, (valid,), bend)
    # An unknown name, sent as an update or as a signal.
    as_update = draw(st.booleans())
    unknown = ("~u" if as_update else "~s") + draw(st.text(min_size=1, max_size=20))
    return Message(unknown, kind, (valid,))


def generate() -> list[Message]:
    batches: list[list[Message]] = []

    @settings(
        max_examples=MESSAGES // BATCH,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(bad_message(), min_size=BATCH, max_size=BATCH))
    def collect(batch: list[Message]) -> None:
        batches.append(batch)

    collect()
    return [m for batch in batches for m in batch]


NEW_KEY = EncryptionCodec(parse_keys("k2:" + base64.b64encode(os.urandom(32)).decode()))
BENDS = {
    # The sealed payload's data opens with its key id (2 + its length bytes): kept or dropped.
    "random bytes": lambda p: Payload(
        metadata=dict(p.metadata),
        data=p.data[: 2 + p.data[1]] + os.urandom(len(p.data) - 2 - p.data[1]),
    ),
    "no key id": lambda p: Payload(
        metadata={"encoding": ENCODING}, data=b"\0" + p.data[2 + p.data[1] :]
    ),
    "truncated": lambda p: Payload(metadata=dict(p.metadata), data=p.data[:11]),
    "key the workers lack": None,
}


class EarlyRotation(PayloadCodec):
    """A client already encrypting with a new key that no worker has yet."""

    def __init__(self, real: PayloadCodec) -> None:
        self.real = real

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await NEW_KEY.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.real.decode(payloads)


def _clients(client: Client, settings) -> dict[str | None, Client]:
    real = data_converter(settings)
    clients: dict[str | None, Client] = {None: client}
    for bend, fn in BENDS.items():
        codec = EarlyRotation(real.payload_codec) if fn is None else Forge(real.payload_codec, fn)
        clients[bend] = Client(
            client.service_client,
            namespace=client.namespace,
            data_converter=dataclasses.replace(real, payload_codec=codec),
        )
    return clients


@pytest.fixture
async def dev_env(settings) -> Any:
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )
    async with env:
        yield env


async def _tickets(env, settings) -> list[WorkflowHandle]:
    """Half wait for their invite (on-prem), half for their replacement (no customer)."""
    kinds = [("on_prem", "lsa-onprem"), ("no_customer", "lab-loaners")]
    handles = [await start(env, settings, ticket_input(*kinds[n % 2])) for n in range(TICKETS)]

    async def ready(h: WorkflowHandle) -> None:
        s = await until(h, lambda s: s.setup_done, "setup", 30)
        await settle(h, s.status)

    await asyncio.gather(*(ready(h) for h in handles))
    return handles


async def _send(clients, handle: WorkflowHandle, msg: Message) -> str | None:
    """Send one message; the refusal message of an update (None for a signal)."""
    target = clients[msg.bend].get_workflow_handle(handle.id)
    if not msg.is_update:
        await target.signal(msg.name, args=list(msg.args))
        return None
    try:
        # A wedged ticket never answers: give up after a while rather than hang the suite.
        await asyncio.wait_for(target.execute_update(msg.name, args=list(msg.args)), 30)
    except WorkflowUpdateFailedError as refused:
        return refused.cause.message
    raise AssertionError(f"{msg.kind} {msg.name} was accepted: {msg.args!r:.200}")


async def test_thousands_of_bad_messages_wedge_no_ticket(dev_env, settings, sim):
    messages = generate()
    assert len(messages) >= 5_000
    assert {m.name for m in messages} >= set(NAMES)

    local = settings.model_copy(update={"task_queue": f"fuzz-{uuid4().hex[:8]}"})
    from worker import build_workers

    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(dev_env.client, local):
            await stack.enter_async_context(w)
        handles = await _tickets(dev_env, local)
        before = [await h.query("state", result_type=TicketState) for h in handles]
        clients = _clients(dev_env.client, local)

        started = time.monotonic()
        sent_to: Counter[int] = Counter()
        refusals: list[str] = []
        targets = [(i % TICKETS, m) for i, m in enumerate(messages)]
        for at in range(0, len(targets), IN_FLIGHT):
            chunk = targets[at : at + IN_FLIGHT]
            answers = await asyncio.gather(*(_send(clients, handles[t], m) for t, m in chunk))
            for (t, m), answer in zip(chunk, answers, strict=True):
                if m.is_update:
                    refusals.append(answer)
                else:
                    sent_to[t] += 1
        elapsed = time.monotonic() - started

        for i, h in enumerate(handles):
            after = await until(
                h, lambda s, i=i: len(s.audits) - len(before[i].audits) >= sent_to[i], "drops"
            )
            new = after.audits[len(before[i].audits) :]
            assert [a.action for a in new] == ["dropped signal"] * sent_to[i]
            assert all(len(a.detail) <= 500 for a in new)
            keep = {"audits", "next_wakeup", "revision"}  # revision: projection writes
            assert after.model_dump(exclude=keep) == before[i].model_dump(exclude=keep)
            assert after.status in (Status.pending_invite, Status.pending_ordering)
            failed = [
                e
                async for e in h.fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            assert failed == [], failed[0].workflow_task_failed_event_attributes.failure.message

    assert all(r and "Failed decoding arguments" not in r and len(r) <= 500 for r in refusals)
    kinds = Counter(m.kind for m in messages)
    print(f"\n{len(messages)} bad messages in {elapsed:.1f} s to {TICKETS} tickets: {dict(kinds)}")
