"""TeamDynamix activities: each is idempotent and waits out TDX's rate limit exactly.

Each TDX method TDX limits on its own runs on a task queue of its own (see
`domain.settings.TDX_METHOD_QUEUES`) whose worker-side rate limit keeps every worker together
under that method's per-minute limit; a 429 that still gets through is retried at
`X-RateLimit-Reset`, not sooner.

Idempotency: an external change is recorded as an Event keyed by the workflow's key. Creates
(tickets and tasks) cannot be made idempotent by TDX itself, so they carry a marker (a
`[deskflow:key]` line for tickets, the title for tasks) that a retry looks for first, and a
create whose answer was lost (timeout, 5xx, crash) leaves a `TdxCreateIntent`: until TDX's
longest processing time has passed since that request was sent, a retry that does not see
the marker yet waits instead of creating, because the first request may still land.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.rate_limits import wait_until_allowed
from activities.tdx_client import (
    StatusClass,
    TdxClient,
    TdxError,
    TdxNotFound,
    TdxRateLimited,
    TicketClass,
    status_class,
)
from domain.activity_requests import (
    AssetFound,
    AssetLookup,
    DeliveryCheck,
    TdxCompleteTask,
    TdxFeed,
    TdxScheduleDay1,
    TdxTaskRequest,
    TdxTicketCreated,
    TdxTicketRequest,
)
from domain.refresh import Person, SystemLookup
from domain.settings import Settings
from store.tables import Event, TdxCreateIntent

# A change request is a TDX Change; the refresh and location checks are service requests.
CLASSIFICATION = {
    "refresh": TicketClass.SERVICE_REQUEST,
    "changed_location": TicketClass.SERVICE_REQUEST,
    "change_request": TicketClass.CHANGE,
}

P = ParamSpec("P")
R = TypeVar("R")


def tdx_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn TDX's answers into Temporal retry decisions."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except TdxRateLimited as e:
            raise wait_until_allowed(
                "TDX rate limit reached", "TdxRateLimited", e.retry_after
            ) from e
        except TdxError as e:
            non_retryable = e.status in (400, 401, 403) and not isinstance(e, TdxNotFound)
            raise ApplicationError(
                f"TDX answered {e.status}: {e}", type="TdxError", non_retryable=non_retryable
            ) from e
        except httpx.TransportError as e:
            raise ApplicationError(f"TDX unreachable: {type(e).__name__}", type="TdxDown") from e

    return wrapper


class TdxActivities:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], client: TdxClient):
        self.settings = settings
        self.sessions = sessions
        self.client = client

    # -- event log: what we changed in TDX, keyed for idempotency --

    def _event(self, key: str) -> Event | None:
        with self.sessions() as db:
            row = db.scalar(select(Event).where(Event.key == key))
            if row is not None:
                db.expunge(row)
            return row

    def _record(self, key: str, ticket_id: str, kind: str, detail: dict[str, Any]) -> None:
        try:
            with self.sessions.begin() as db:
                db.add(
                    Event(
                        key=key, ticket_id=ticket_id, kind=kind, at=datetime.now(UTC), detail=detail
                    )
                )
        except IntegrityError:
            pass  # recorded by an earlier attempt

    async def _once(
        self, key: str, ticket_id: str, kind: str, do: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        done = await asyncio.to_thread(self._event, key)
        if done is not None:
            return done.detail
        detail = await do()
        await asyncio.to_thread(self._record, key, ticket_id, kind, detail)
        return detail

    # -- creates that TDX may still be processing after we gave up on the answer --

    def _intent_sent_at(self, key: str) -> datetime | None:
        with self.sessions() as db:
            row = db.get(TdxCreateIntent, key)
            return None if row is None else row.sent_at

    def _set_intent(self, key: str, ticket_id: str, sent_at: datetime | None) -> None:
        with self.sessions.begin() as db:
            row = db.get(TdxCreateIntent, key)
            if sent_at is None:
                if row is not None:
                    db.delete(row)
            elif row is None:
                db.add(TdxCreateIntent(key=key, ticket_id=ticket_id, sent_at=sent_at))
            else:
                row.sent_at = sent_at

    async def _create_once(
        self,
        key: str,
        ticket_id: str,
        kind: str,
        field: str,
        find: Callable[[], Awaitable[int | None]],
        create: Callable[[], Awaitable[int]],
    ) -> tuple[int, bool]:
        """The TDX id of the object `key` stands for, creating it at most once: (id, created).

        The Event under `key` holds the answer once known (the id under `field`). Before
        sending a create, an intent is written; it stays until the Event is, or until TDX
        clearly refused the request (429, 4xx, no connection). So when neither exists,
        nothing was ever sent and a first attempt creates without searching. Otherwise the
        marker is looked for, and if it is not there yet while the last request may land
        (`tdx_create_settle_seconds` after we stopped waiting for its answer, or after it was
        sent if the worker died meanwhile), the retry waits instead of creating again.
        """
        done = await asyncio.to_thread(self._event, key)
        if done is not None:
            return int(done.detail[field]), False
        sent_at = await asyncio.to_thread(self._intent_sent_at, key)
        if sent_at is not None or activity.info().attempt > 1:
            found = await find()
            if found is not None:
                await asyncio.to_thread(self._record_created, key, ticket_id, kind, {field: found})
                return found, False
        if sent_at is not None:
            settle = timedelta(seconds=self.settings.tdx_create_settle_seconds)
            wait = sent_at + settle - datetime.now(UTC)
            if wait > timedelta(0):
                raise ApplicationError(
                    "an earlier TDX create may still land; looking for it again before creating",
                    type="TdxCreatePending",
                    next_retry_delay=wait,
                    category=ApplicationErrorCategory.BENIGN,
                )
        await asyncio.to_thread(self._set_intent, key, ticket_id, datetime.now(UTC))
        try:
            made = await create()
        except (
            TdxRateLimited,
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            SQLAlchemyError,  # the shared rate-window count, before anything was sent
        ):
            await asyncio.to_thread(self._set_intent, key, ticket_id, None)
            raise
        except (TdxError, httpx.TransportError) as e:
            # Unknown outcome: TDX may carry the request out for a while after this moment.
            clear = isinstance(e, TdxError) and e.status < 500
            await asyncio.to_thread(
                self._set_intent, key, ticket_id, None if clear else datetime.now(UTC)
            )
            raise
        await asyncio.to_thread(self._record_created, key, ticket_id, kind, {field: made})
        return made, True

    def _record_created(self, key: str, ticket_id: str, kind: str, detail: dict[str, int]) -> None:
        self._record(key, ticket_id, kind, detail)
        self._set_intent(key, ticket_id, None)

    def ticket_url(self, tdx_id: int) -> str:
        return self.settings.tdx_ticket_url(tdx_id)

    @activity.defn(name="tdx_create_ticket")
    @tdx_errors
    async def create_ticket(self, req: TdxTicketRequest) -> TdxTicketCreated:
        marker = f"[deskflow:{req.key}]"

        async def find() -> int | None:
            found = [
                t
                for t in await self.client.search_tickets(marker)
                if marker in (t.get("Description") or "")
            ]
            return min(int(t["ID"]) for t in found) if found else None

        async def post() -> int:
            ticket = await self.client.create_ticket(
                {
                    "TypeID": self.settings.tdx_ticket_type_id,
                    "AccountID": self.settings.tdx_account_id,
                    "StatusID": self.settings.tdx_new_status_id,
                    "Title": req.title,
                    "Description": f"{req.description}\n{marker}",
                    "RequestorEmail": req.requestor_email,
                    "Classification": int(CLASSIFICATION[req.kind]),
                }
            )
            return int(ticket["ID"])

        tdx_id, created = await self._create_once(
            f"tdx:{req.key}", req.ticket_id, f"tdx.{req.kind}_ticket", "tdx_ticket_id", find, post
        )
        return TdxTicketCreated(tdx_ticket_id=tdx_id, url=self.ticket_url(tdx_id), created=created)

    @activity.defn(name="tdx_create_task")
    @tdx_errors
    async def create_task(self, req: TdxTaskRequest) -> int:
        async def find() -> int | None:
            tasks = await self.client.list_tasks(req.tdx_ticket_id)
            found = [int(t["ID"]) for t in tasks if t.get("Title") == req.title]
            return min(found) if found else None

        async def post() -> int:
            task = await self.client.create_task(req.tdx_ticket_id, {"Title": req.title})
            return int(task["ID"])

        key = f"tdx:{req.ticket_id}:task:{req.kind}"
        task_id, _ = await self._create_once(
            key, req.ticket_id, "tdx.task_created", "task_id", find, post
        )
        return task_id

    @activity.defn(name="tdx_complete_task")
    @tdx_errors
    async def complete_task(self, req: TdxCompleteTask) -> None:
        async def complete() -> dict[str, Any]:
            await self.client.complete_task(req.tdx_ticket_id, req.task_id, req.comment)
            return {"task_id": req.task_id, "comment": req.comment}

        await self._once(f"tdx:{req.key}", req.ticket_id, "tdx.task_completed", complete)

    @activity.defn(name="tdx_schedule_day1")
    @tdx_errors
    async def schedule_day1(self, req: TdxScheduleDay1) -> None:
        """Day 1 on the ticket (feed) and on its build/deliver tasks."""

        async def schedule() -> dict[str, Any]:
            for task_id in req.task_ids.values():
                task = await self.client.get_task(req.tdx_ticket_id, task_id)
                task |= {"StartDate": req.start.isoformat(), "EndDate": req.end.isoformat()}
                await self.client.update_task(req.tdx_ticket_id, task_id, task)
            await self.client.add_ticket_feed(
                req.tdx_ticket_id,
                f"Day 1 scheduled: {req.start.isoformat()} to {req.end.isoformat()}"
                f" at {req.location}",
            )
            return {"start": req.start.isoformat(), "location": req.location}

        await self._once(f"tdx:{req.key}", req.ticket_id, "tdx.day1_scheduled", schedule)

    @activity.defn(name="tdx_add_feed")
    @tdx_errors
    async def add_feed(self, req: TdxFeed) -> None:
        async def feed() -> dict[str, Any]:
            await self.client.add_ticket_feed(
                req.tdx_ticket_id,
                req.comment,
                new_status_id=self.settings.tdx_cancelled_status_id if req.cancel else None,
            )
            return {"comment": req.comment}

        await self._once(f"tdx:{req.key}", req.ticket_id, "tdx.feed", feed)

    @activity.defn(name="tdx_find_asset")
    @tdx_errors
    async def find_asset(self, req: AssetLookup) -> AssetFound:
        """Retried with backoff by the workflow until TDX knows the replacement's serial."""
        assets = await self.client.search_assets_by_serial(req.serial)
        match = [a for a in assets if str(a.get("SerialNumber", "")).lower() == req.serial.lower()]
        if not match:
            raise ApplicationError(
                f"serial {req.serial} not in TDX assets yet",
                type="NotYetInTdx",
                category=ApplicationErrorCategory.BENIGN,
            )
        a = match[0]
        return AssetFound(asset_id=a["ID"], serial=a["SerialNumber"], name=a.get("Name", ""))

    @activity.defn(name="tdx_delivery_progress")
    @tdx_errors
    async def delivery_progress(self, req: DeliveryCheck) -> str:
        """'closed' or 'installed' once TDX says so; otherwise fail and be retried tomorrow."""
        ticket = await self.client.get_ticket(req.tdx_ticket_id)
        if status_class(ticket) in (StatusClass.COMPLETED, StatusClass.CANCELLED):
            return "closed"
        if not req.installed_known and req.deliver_task_id:
            task = await self.client.get_task(req.tdx_ticket_id, req.deliver_task_id)
            if task.get("PercentComplete") == 100:
                return "installed"
        raise ApplicationError(
            "TDX shows no progress yet; checking again tomorrow",
            type="NotYet",
            category=ApplicationErrorCategory.BENIGN,
        )

    @activity.defn(name="tdx_lookup_system")
    @tdx_errors
    async def lookup_system(self, serial: str) -> SystemLookup:
        """An existing system's owner, support team and location, as a batch needs them."""
        assets = await self.client.search_assets_by_serial(serial)
        match = [a for a in assets if str(a.get("SerialNumber", "")).lower() == serial.lower()]
        if not match:
            raise ApplicationError(
                "unknown serial: not found in TDX assets", type="UnknownSerial", non_retryable=True
            )
        a = match[0]
        user = None
        if a.get("OwningCustomerID"):
            try:
                person = await self.client.get_person(a["OwningCustomerID"])
            except TdxNotFound:
                person = None
            if person:
                user = Person(
                    uniqname=person.get("UserName") or person["UID"],
                    name=person.get("FullName") or person.get("UserName"),
                    email=person.get("PrimaryEmail") or person.get("AlertEmail"),
                )
        maker = str(a.get("ManufacturerName", "")).lower()
        location = ", ".join(x for x in (a.get("LocationName"), a.get("LocationRoomName")) if x)
        return SystemLookup(
            serial=a["SerialNumber"],
            user=user,
            support_team=a.get("SupportingDepartmentName") or None,
            platform="mac" if "apple" in maker else "windows",
            model=a.get("ProductModelName") or a.get("Name") or "unknown model",
            location=location,
        )
