"""The HaloPSA adapter of the ITSM port: an httpx client that speaks Halo's API.

OAuth2 client credentials (`POST {base}/auth/token`, `?tenant=` for hosted tenants), the token
kept until a minute before `expires_in` and fetched again once on a 401; creates and updates
POST an array to the collection; notes and time entries are Actions. Writes are idempotent:
each carries the `[deskflow:key]` marker, and a retry looks for it before writing again, so a
call that timed out after Halo saved it never makes a second ticket or note.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from activities.http_pool import api_client
from activities.itsm_http import raise_for
from domain.halo_json import (
    STATUS_CLOSED,
    TYPE_IDS,
    action_from_halo,
    format_time,
    halo_update,
    ticket_from_halo,
)
from domain.itsm import (
    ItsmName,
    NewNote,
    NewTicket,
    Note,
    ProblemLink,
    Resolution,
    ServiceDeskTicket,
    TicketAction,
    TicketChange,
    TicketQuery,
    marker,
)

PAGE = 100


class HaloAdapter:
    """One Halo tenant. Share one instance per worker (token and connection pool)."""

    name: ItsmName = "halo"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        tenant: str | None = None,
        timeout: float | httpx.Timeout = 20.0,
    ) -> None:
        self._http = api_client(base_url.rstrip("/") + "/", timeout=timeout)
        self._client_id, self._secret, self._tenant = client_id, client_secret, tenant
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=UTC)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ----- plumbing ---------------------------------------------------------------------------

    async def _login(self, stale: str | None) -> str:
        async with self._lock:
            if self._token and self._token != stale and datetime.now(UTC) < self._expires:
                return self._token
            response = await self._http.post(
                "auth/token",
                params={"tenant": self._tenant} if self._tenant else None,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._secret.get_secret_value(),
                    "scope": "all",
                },
            )
            raise_for(response)
            body = response.json()
            self._token = str(body["access_token"])
            lifetime = timedelta(seconds=int(body.get("expires_in", 3600)))
            self._expires = datetime.now(UTC) + lifetime - timedelta(minutes=1)
            return self._token

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self._token
        if token is None or datetime.now(UTC) >= self._expires:
            token = await self._login(token)
        for attempt in (1, 2):
            response = await self._http.request(
                method, f"api/{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            if response.status_code == 401 and attempt == 1:
                token = await self._login(token)
                continue
            raise_for(response)
            return response.json()
        raise AssertionError("unreachable")

    async def _raw_actions(self, ticket_id: str) -> list[dict[str, Any]]:
        body = await self._call("GET", "Actions", params={"ticket_id": int(ticket_id)})
        return list(body.get("actions", []))

    # ----- the port ---------------------------------------------------------------------------

    async def get(self, ticket_id: str) -> ServiceDeskTicket:
        return ticket_from_halo(await self._call("GET", f"Tickets/{int(ticket_id)}"))

    async def create(self, new: NewTicket) -> ServiceDeskTicket:
        mark = marker(new.key)
        found = await self._call("GET", "Tickets", params={"search": mark, "pageinate": "true"})
        for t in found.get("tickets", []):
            if mark in str(t.get("details", "")):
                return ticket_from_halo(t)
        element = {
            "summary": new.summary,
            "details": f"{new.details}\n{mark}".strip(),
            "tickettype_id": TYPE_IDS[new.kind],
            "category_1": new.category,
            "client_name": new.client,
            "team": new.team,
            "user_name": new.user.name,
            "user_email": new.user.email or "",
        }
        if new.priority:
            element["priority_id"] = int(new.priority)
        return ticket_from_halo(await self._call("POST", "Tickets", json=[element]))

    async def update(self, change: TicketChange) -> ServiceDeskTicket:
        saved = await self._call("POST", "Tickets", json=[halo_update(change)])
        if change.note:
            await self.add_note(
                NewNote(key=f"{change.key}:note", ticket_id=change.ticket_id, text=change.note)
            )
        return ticket_from_halo(saved)

    async def add_note(self, note: NewNote, new_status: int | None = None) -> Note:
        mark = marker(note.key)
        for a in await self._raw_actions(note.ticket_id):
            if mark in str(a.get("note_html", "")):
                return _note(a)
        element: dict[str, Any] = {
            "ticket_id": int(note.ticket_id),
            "outcome": "Private Note" if note.internal else "Email User",
            "note_html": f"{note.text}\n{mark}",
            "hiddenfromuser": note.internal,
            "sendemail": False,
        }
        if note.time is not None:
            element["timetaken"] = float(note.time.hours)
            if note.time.work_type_id is not None:
                element["chargerate"] = note.time.work_type_id
        if new_status is not None:
            element["new_status"] = new_status
        return _note(await self._call("POST", "Actions", json=[element]))

    async def link_to_problem(self, link: ProblemLink) -> ServiceDeskTicket:
        element = {"id": int(link.ticket_id), "parent_id": int(link.problem_id)}
        return ticket_from_halo(await self._call("POST", "Tickets", json=[element]))

    async def resolve(self, resolution: Resolution) -> ServiceDeskTicket:
        note = NewNote(key=resolution.key, ticket_id=resolution.ticket_id, text=resolution.notes)
        await self.add_note(note, new_status=STATUS_CLOSED)
        return await self.get(resolution.ticket_id)

    async def search(self, query: TicketQuery) -> list[ServiceDeskTicket]:
        params: dict[str, Any] = {"pageinate": "true", "page_size": PAGE}
        if query.changed_since is not None:
            params |= {
                "datesearch": "lastactiondate",
                "startdate": format_time(query.changed_since),
            }
        if query.open_only:
            params["open_only"] = "true"
        found: list[ServiceDeskTicket] = []
        page = 1
        while len(found) < query.limit:
            body = await self._call("GET", "Tickets", params={**params, "page_no": page})
            tickets = body.get("tickets", [])
            found += [ticket_from_halo(t) for t in tickets]
            if len(tickets) < PAGE:
                break
            page += 1
        return found[: query.limit]

    async def work_types(self) -> list[dict[str, Any]]:
        """Halo's charge types (work types): `GET /api/lookup?lookupid=17` → [{id, name}]."""
        body = await self._call("GET", "lookup", params={"lookupid": 17})
        return [{"id": int(r["id"]), "name": str(r["name"])} for r in body]

    async def actions_since(self, ticket_id: str, after: str | None) -> list[TicketAction]:
        actions = [action_from_halo(a) for a in await self._raw_actions(ticket_id)]
        floor = int(after) if after else 0
        return [a for a in actions if int(a.id) > floor]


def _note(a: dict[str, Any]) -> Note:
    action = action_from_halo(a)
    return Note(
        id=action.id,
        at=action.at,
        author=action.by,
        text=action.text,
        internal=bool(a.get("hiddenfromuser")),
    )
