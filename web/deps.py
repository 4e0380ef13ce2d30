"""What every route is given: the app's resources, the signed-in staff member or customer.

`WebApp` holds the settings, the Temporal client (injected, or connected on first use), the
database sessions and the templates. The dependencies below decide who is asking and refuse
early: a route that needs a permission declares `Depends(staff_with(Perm.x))`, so the role
check is on the server and written once per route.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from itsdangerous import SignatureExpired
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from temporalio.client import Client

from domain.customer_links import LinkError, verify
from domain.labels import event_sentence, label, replacement_note
from domain.settings import Settings
from operations.errors import FieldError, forbidden, not_found
from operations.itsm_lookup import TicketLookups
from store.db import make_engine, session_factory
from store.staff_sessions import session_user
from web import queries
from web.config import WebConfig, WebSettings
from web.login_throttle import LoginThrottle
from web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Perm,
    Role,
    Staff,
    Tokens,
    same,
)

T = TypeVar("T")

# An instant as `datetime.isoformat()` writes an aware one (a time without its offset could
# be anyone's local time, so it is left as written).
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Database work runs on threads of the app's own, as many as each engine's pool has
# connections: asyncio's default pool (cores + 4 threads) made a 1.4 ms read wait 61 ms
# behind its neighbours with 100 customers confirming at once.
DB_THREADS = 16
# Configs and reference data change rarely and their editors do not read through this
# cache; the workflow's validator has the final word on what a ticket accepts.
CACHE_SECONDS = 5.0


class WebApp:
    """The resources of one web app instance (one per `create_app`)."""

    def __init__(
        self, settings: Settings, client: Client | None, web: WebSettings | None = None
    ) -> None:
        self.settings = settings
        self.config = WebConfig(settings, web)
        self.tokens = Tokens(settings.secret_key.get_secret_value(), self.config.session_max_age)
        self.login_throttle = LoginThrottle()
        self.ticket_lookups = TicketLookups()  # /hooks/{itsm}: does the ITSM have the ticket?
        self.tz = ZoneInfo(settings.timezone)
        pool = {"pool_size": DB_THREADS, "max_overflow": 0}
        self.writes = session_factory(make_engine(settings.database_url, **pool))
        self.reads = session_factory(queries.read_engine(settings.database_url, **pool))
        self._db_threads = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="web-db")
        self._cached: dict[tuple, tuple[float, Any]] = {}
        self._client = client
        self._client_lock = asyncio.Lock()
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.globals.update(app=self)
        self.templates.env.filters.update(
            when=self.when,
            day=self.day,
            moments=self.moments,
            label=label,
            # codes -> (code, words) options of a <select>
            labelled=lambda codes, table: [(c, label(c, table)) for c in codes],
        )
        self.templates.env.globals.update(replacement_note=replacement_note)

    async def client(self) -> Client:
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    from operations.temporal_client import connect

                    self._client = await connect(self.settings)
        return self._client

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, ...)` on a read session, off the event loop."""

        def work() -> T:
            with self.reads() as db:
                return fn(db, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db_threads, work)

    async def read_cached(self, fn: Callable[..., T], *args: Any) -> T:
        """`read`, remembered for CACHE_SECONDS (configs, reference data)."""
        key = (fn, *args)
        hit = self._cached.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        value = await self.read(fn, *args)
        self._cached[key] = (time.monotonic() + CACHE_SECONDS, value)
        return value

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, ...)` in one committed transaction, off the event loop."""

        def work() -> T:
            with self.writes.begin() as db:
                return fn(db, *args, **kwargs)

        self._cached.clear()  # a write may change what was cached
        return await asyncio.get_running_loop().run_in_executor(self._db_threads, work)

    def now(self) -> datetime:
        return datetime.now(UTC)

    # ----- display helpers (also template filters) ----------------------------------------

    def when(self, moment: datetime | str | None, fmt: str = "%a %b %-d, %Y %-I:%M %p") -> str:
        if moment is None or moment == "":
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz).strftime(fmt)

    def moments(self, text: str | None) -> str:
        """Free text (an audit's detail) with every ISO instant in it said as `when` says it:
        the workflow writes instants as data, staff read them as local times."""
        return ISO_INSTANT.sub(self._moment_words, text or "")

    def _moment_words(self, found: re.Match[str]) -> str:
        try:
            return self.when(found.group(0).replace("Z", "+00:00"))
        except ValueError:  # a date that does not exist, typed by someone: left as typed
            return found.group(0)

    def when_or_day(self, moment: datetime | str) -> str:
        """The instant, or only its day at local midnight: a no-customer ticket's generic
        day 1 is "00:00 on the day", not an appointment at 12:00 AM."""
        words = self.when(moment)
        return self.day(moment) if words.endswith(" 12:00 AM") else words

    def day(self, moment: datetime | str | None) -> str:
        return self.when(moment, "%A %B %-d, %Y")

    def event_line(self, kind: str, detail: dict[str, Any] | None, tdx_url: str | None) -> Markup:
        """An event as a sentence (domain.labels) whose TDX ticket is a link to it: the
        event's own TDX ticket if it names one, else the refresh's (a task's events)."""
        text = str(escape(event_sentence(kind, detail, self.when_or_day)))
        tdx_id = (detail or {}).get("tdx_ticket_id")
        if tdx_id is not None:
            link = escape(self.settings.tdx_ticket_url(int(tdx_id)))
            mention = f"TDX ticket {escape(tdx_id)}"
            text = text.replace(mention, f'<a href="{link}">{mention}</a>', 1)
        elif tdx_url and kind.startswith("tdx."):
            text += f' <a href="{escape(tdx_url)}">(open in TDX)</a>'
        return Markup(text)

    def temporal_ui_link(self, ticket_id: str) -> str:
        base = self.settings.temporal_ui_url.rstrip("/")
        return f"{base}/namespaces/{self.settings.temporal_namespace}/workflows/refresh-{ticket_id}"


async def web_app(request: Request) -> WebApp:
    """The app's state, as a dependency. Async on purpose: FastAPI runs a plain `def`
    dependency in its thread pool, a thread hop on every request (and a queue under load)."""
    return request.app.state.web


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/codec/")) or request.url.path == "/api"


class SignInRequired(Exception):
    """No staff session: pages redirect to the login form, the API answers 401."""


# ----- staff ----------------------------------------------------------------------------


def _credentials(request: Request) -> tuple[str | None, bool]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    return request.cookies.get(SESSION_COOKIE), True


def _load_staff(db: Session, session_id: str, now: datetime) -> tuple[Any, frozenset[str]] | None:
    user = session_user(db, session_id, now)
    if user is None:
        return None
    configs = (
        queries.approver_config_ids(db, user.username, user.email)
        if Role.approver in (user.roles or [])
        else frozenset()
    )
    return user, configs


async def current_staff(request: Request) -> Staff | None:
    """The signed-in staff member (cookie or bearer token) of a live session, roles read fresh."""
    if "staff" in request.scope.get("state", {}):
        return request.state.staff
    app: WebApp = request.app.state.web
    value, via_cookie = _credentials(request)
    staff = None
    session = app.tokens.read_session(value) if value else None
    if session is not None:
        session_id, csrf = session
        found = await app.read(_load_staff, session_id, app.now())
        if found is not None:
            user, configs = found
            staff = Staff(
                username=user.username,
                name=user.name,
                email=user.email,
                roles=frozenset(user.roles or []),
                csrf=csrf,
                via_cookie=via_cookie,
                approver_configs=configs,
                session_id=session_id,
            )
    request.state.staff = staff
    return staff


async def check_csrf(request: Request, staff: Staff) -> None:
    """Unsafe requests authenticated by the cookie must echo the session's CSRF token."""
    if request.method in SAFE_METHODS or not staff.via_cookie:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not same(str(sent) if sent is not None else None, staff.csrf):
        raise FieldError(
            403, "the form's security token is missing or out of date; reload the page", CSRF_FIELD
        )


def staff_with(*perms: Perm) -> Callable[..., Any]:
    """Dependency: a staff member holding any of `perms` (403 otherwise), CSRF checked."""

    async def dependency(request: Request) -> Staff:
        staff = await current_staff(request)
        if staff is None:
            raise SignInRequired()
        if perms and not any(staff.can(p) for p in perms):
            raise forbidden()
        await check_csrf(request, staff)
        return staff

    return dependency


any_staff = staff_with()


_APP = Depends(web_app)

# What routes declare, e.g. `async def route(staff: TicketAdmin, app: App)`: the role check
# is in the type, so the signature says who may call the route.
App = Annotated[WebApp, Depends(web_app)]
AnyStaff = Annotated[Staff, Depends(any_staff)]
TicketViewer = Annotated[Staff, Depends(staff_with(Perm.view_tickets))]
TicketManager = Annotated[Staff, Depends(staff_with(Perm.manage_tickets))]
TicketAdmin = Annotated[Staff, Depends(staff_with(Perm.admin_tickets))]
Approver = Annotated[Staff, Depends(staff_with(Perm.approve))]
TicketEditor = Annotated[Staff, Depends(staff_with(Perm.admin_tickets, Perm.approve))]
ConfigViewer = Annotated[Staff, Depends(staff_with(Perm.view_configs))]
ConfigEditor = Annotated[Staff, Depends(staff_with(Perm.edit_configs))]
SlotViewer = Annotated[Staff, Depends(staff_with(Perm.view_slots))]
SlotAdmin = Annotated[Staff, Depends(staff_with(Perm.admin_slots))]
STAFF_WITH: dict[Perm, Any] = {
    Perm.view_tickets: TicketViewer,
    Perm.manage_tickets: TicketManager,
    Perm.admin_tickets: TicketAdmin,
}


# ----- customers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """A valid customer link: the ticket it opens and the address it was sent to."""

    token: str
    ticket_id: str
    email: str
    is_delegate: bool


def _signed(token: str, app: WebApp) -> tuple[str, str]:
    """(ticket id, address) of a genuine, unexpired link."""
    try:
        ticket_id, email = verify(app.settings.secret_key.get_secret_value(), token)
    except LinkError as e:
        expired = isinstance(e.__cause__, SignatureExpired)
        raise FieldError(403 if expired else 404, str(e)) from None
    return ticket_id, email.lower()


async def customer(token: str, app: WebApp = _APP) -> Customer:
    """The link's ticket, if the link is genuine, unexpired and still addressed right."""
    ticket_id, email = _signed(token, app)
    addresses = await app.read(queries.ticket_addresses, ticket_id)
    if addresses is None:
        raise not_found("this link is not valid")
    user_email, delegate_email = addresses
    is_user = user_email.lower() == email
    is_delegate = (delegate_email or "").lower() == email
    if not (is_user or is_delegate):  # e.g. the delegate was replaced since the email
        raise not_found("this link is not valid any more; use the link in your latest email")
    return Customer(
        token=token,
        ticket_id=ticket_id,
        email=email,
        is_delegate=is_delegate and not is_user,
    )


def signed_customer(token: str, app: WebApp) -> Customer:
    """A genuine, unexpired link, its address not yet checked against the ticket.

    Only for the wizard's Confirm: its update names the address as a `link:` actor and the
    workflow checks it (`domain.refresh_rules.link_actor`), so the submit waits for no
    database read. `is_delegate` is unknown here and left False; nothing on that path
    reads it.
    """
    ticket_id, email = _signed(token, app)
    return Customer(token=token, ticket_id=ticket_id, email=email, is_delegate=False)


LinkCustomer = Annotated[Customer, Depends(customer)]


async def check_customer_csrf(request: Request, who: Customer) -> None:
    app: WebApp = request.app.state.web
    sent = (await request.form()).get(CSRF_FIELD)
    if not same(str(sent) if sent is not None else None, app.tokens.customer_csrf(who.token)):
        raise FieldError(
            403, "the form's security token is missing or wrong; reload the page", CSRF_FIELD
        )
