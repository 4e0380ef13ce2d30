"""All stand-ins in one process: one HTTP server (TDX, Slack, mailbox) plus the SMTP server.

`python -m sim` runs it for `make run` and demos; tests use `SimServer`, which starts the same
thing inside the test's event loop on free ports, so every test talks real HTTP and SMTP over
loopback to exactly what developers run by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from sim import api_docs, tdx_pages
from sim import halo as halo_sim
from sim import paging as paging_sim
from sim import servicenow as sn_sim
from sim import slack as slack_sim
from sim import smtp as smtp_sim
from sim import tdx as tdx_sim
from sim.slack import SlackSim
from sim.smtp import MailStore, SmtpServer, bind_tcp_socket
from sim.tdx import TdxSim

HALO_DB, SN_DB = "sim-halo.db", "sim-servicenow.db"
PAGING_DB = "sim-pagerduty.db"
TDX_DB, SLACK_DB, MAIL_DB = "sim-tdx.db", "sim-slack.db", "sim-mailbox.db"

_INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>deskflow stand-ins</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem">
<h1>deskflow stand-ins</h1>
<ul>
<li><a href="/mailbox">Mailbox</a>: every email the product sent</li>
<li><a href="/_sim/tdx/console">TDX tickets</a>: each ticket's page, where a technician marks a
task complete or closes the ticket (JSON: <a href="/_sim/tdx/tickets">tickets</a>,
<a href="/_sim/tdx/calls">calls</a>)</li>
<li><a href="/_sim/slack/messages">Slack messages</a></li>
<li><a href="/_sim/halo">HaloPSA console</a> and <a href="/_sim/servicenow">ServiceNow
console</a>: log a ticket, see routing and due dates</li>
<li><a href="/_sim/pagerduty">PagerDuty pages</a>: answer, send to voicemail or leave a page</li>
<li><a href="/_sim/docs">API docs</a>: the simulated APIs and their test controls</li>
</ul></body></html>"""


def create_app(
    tdx: TdxSim,
    slack: SlackSim,
    mail: MailStore,
    halo: halo_sim.HaloSim | None = None,
    servicenow: sn_sim.ServiceNowSim | None = None,
    paging: paging_sim.PagingSim | None = None,
) -> FastAPI:
    """The one HTTP app serving the TDX, Slack and mailbox stand-ins side by side."""
    app = FastAPI(
        title="deskflow stand-ins",
        docs_url=None,  # Swagger UI needs a CDN; api_docs serves a page that works offline
        openapi_url="/_sim/openapi.json",
        redoc_url=None,
    )
    app.include_router(tdx_sim.build_router(tdx))
    app.include_router(tdx_pages.build_router(tdx))
    app.include_router(slack_sim.build_router(slack))
    app.include_router(smtp_sim.build_router(mail))
    if halo is not None:
        app.include_router(halo_sim.build_router(halo))
        app.add_exception_handler(halo_sim._Injected, halo_sim.injected_handler)
    if servicenow is not None:
        app.include_router(sn_sim.build_router(servicenow))
        for exc, handler in sn_sim.exception_handlers().items():
            app.add_exception_handler(exc, handler)
    if paging is not None:
        app.include_router(paging_sim.build_router(paging))

    api_docs.install(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return _INDEX

    return app


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its owner.

    The stand-ins share an event loop with a test run or with `python -m sim`, which decide for
    themselves when to stop; uvicorn must not take over Ctrl-C and SIGTERM.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _env(name: str, default: str) -> str:
    """A credential as deskflow's settings read it (same variable, same dev default)."""
    return os.environ.get(f"DESKFLOW_{name}", default)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class SimServer:
    """Starts every stand-in in the current event loop; an async context manager.

    Port 0 picks a free port (the sockets are bound before serving, so the real port is known).
    The stand-ins accept the credentials deskflow's own settings read from the environment
    (`DESKFLOW_TDX_BEID`, `DESKFLOW_TDX_WEB_SERVICES_KEY`, `DESKFLOW_SLACK_TOKEN`), with the
    same local-development defaults, unless they are given here.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        http_port: int = 0,
        smtp_port: int = 0,
        tdx_window_seconds: float = 60.0,
        tdx_limit: int = 60,
        tdx_create_limit: int = 30,
        slack_per_second: float = 1.0,
        tdx_beid: str | None = None,
        tdx_web_services_key: str | None = None,
        slack_token: str | None = None,
        log_level: str = "warning",
        data_dir: str | None = None,
        paging_per_minute: int = 120,
        halo_rate: tuple[int, float] | None = None,
        servicenow_rate: tuple[int, float] | None = None,
    ) -> None:
        self.host = host
        self.http_port = http_port
        self.log_level = log_level
        # Every stand-in keeps its records in a file of data_dir (None: in memory, for tests).
        self.data_dir = data_dir
        self.tdx = TdxSim(
            beid=tdx_beid or _env("TDX_BEID", "00000000-0000-0000-0000-000000000000"),
            web_services_key=tdx_web_services_key or _env("TDX_WEB_SERVICES_KEY", "local-dev-key"),
            window_seconds=tdx_window_seconds,
            limit=tdx_limit,
            create_limit=tdx_create_limit,
            path=self._file(TDX_DB),
        )
        self.slack = SlackSim(
            token=slack_token or _env("SLACK_TOKEN", "xoxb-local-dev"),
            per_second=slack_per_second,
            path=self._file(SLACK_DB),
        )
        self.mail = MailStore(self._file(MAIL_DB))
        self.halo = halo_sim.HaloSim(
            client_id=_env("HALO_CLIENT_ID", "deskflow"),
            client_secret=_env("HALO_CLIENT_SECRET", "local-dev-secret"),
            path=self._file(HALO_DB),
        )
        self.servicenow = sn_sim.ServiceNowSim(
            user=_env("SERVICENOW_USER", "deskflow"),
            password=_env("SERVICENOW_PASSWORD", "local-dev-secret"),
            client_id=_env("SERVICENOW_CLIENT_ID", "deskflow"),
            client_secret=_env("SERVICENOW_CLIENT_SECRET", "local-dev-secret"),
            path=self._file(SN_DB),
        )
        # API rate limits (calls, per seconds): None in tests, the products' levels in `-m sim`.
        if halo_rate:
            self.halo.limit_rate(*halo_rate)
        if servicenow_rate:
            self.servicenow.limit_rate(*servicenow_rate)
        self.paging = paging_sim.PagingSim(
            path=self._file(PAGING_DB),
            per_minute=paging_per_minute,
        )
        self.app = create_app(
            self.tdx, self.slack, self.mail, self.halo, self.servicenow, self.paging
        )
        self._smtp = SmtpServer(self.mail, host, smtp_port)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def _file(self, name: str) -> str:
        return f"{self.data_dir}/{name}" if self.data_dir else ":memory:"

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.http_port}"

    @property
    def tdx_base_url(self) -> str:
        return f"{self.http_url}/TDWebApi/"

    @property
    def slack_base_url(self) -> str:
        return f"{self.http_url}/slack/api/"

    @property
    def halo_base_url(self) -> str:
        return f"{self.http_url}/halo/"

    @property
    def servicenow_base_url(self) -> str:
        return f"{self.http_url}/servicenow/"

    @property
    def paging_base_url(self) -> str:
        return f"{self.http_url}/pagerduty/"

    @property
    def mailbox_url(self) -> str:
        return f"{self.http_url}/mailbox"

    @property
    def smtp_host(self) -> str:
        return self.host

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    def clear_faults(self) -> None:
        """Drop every fault injected into any stand-in that has not fired yet (data stays)."""
        self.tdx.clear_faults()
        self.slack.clear_faults()
        for itsm in (self.halo, self.servicenow, self.paging):
            itsm.faults.rules.clear()
        self.mail.clear_refusals()

    def point_webhooks(self, deskflow_url: str) -> None:
        """Send both ITSMs' webhooks to deskflow's /hooks/{itsm}, authenticated the way
        deskflow's settings expect (DESKFLOW_{HALO,SERVICENOW}_WEBHOOK_AUTH and _SECRET), as an
        administrator would configure the products."""
        root = deskflow_url.rstrip("/")
        for name, sim, kind, secret in (
            ("halo", self.halo, "bearer", "local-dev-halo-hook"),
            ("servicenow", self.servicenow, "basic", "servicenow:local-dev-sn-hook"),
        ):
            auth = (
                _env(f"{name.upper()}_WEBHOOK_AUTH", kind),
                _env(f"{name.upper()}_WEBHOOK_SECRET", secret),
            )
            sim.webhook.configure(f"{root}/hooks/{name}", auth)

    async def start(self) -> None:
        sock = bind_tcp_socket(self.host, self.http_port)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the HTTP stand-in stopped while starting")
            await asyncio.sleep(0.01)
        try:
            await self._smtp.astart()
        except BaseException:
            await self._stop_http()
            raise

    async def stop(self) -> None:
        await self.halo.webhook.aclose()
        await self.servicenow.webhook.aclose()
        await self._smtp.astop()
        await self._stop_http()

    async def _stop_http(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
