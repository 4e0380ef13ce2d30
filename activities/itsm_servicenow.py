"""The ServiceNow adapter of the ITSM port: the Table API over httpx, Basic auth or OAuth.

Authentication is the instance's choice: Basic (user and password on every call) or an
OAuth 2.0 bearer token from `/oauth_token.do` (grant `password` for an integration user, or
`client_credentials` where the instance's OAuth application names its user), kept until it
expires and fetched again on a 401 (`activities.oauth_bearer`).

Tickets are incidents addressed by `number`; the adapter finds the `sys_id` for writes. It
asks for display values so reference fields come back as names. Notes are journal entries
written through `work_notes`/`comments`; resolving sends `close_code` and `close_notes`
(required by the instance's data policy). Writes carry the `[deskflow:key]` marker and a
retry looks for it first (in the description, or in `sys_journal_field`), so a call that
timed out after ServiceNow saved it never makes a second incident or note.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import SecretStr

from activities.http_pool import api_client
from activities.itsm_http import raise_for
from activities.oauth_bearer import OAuthBearer
from domain.itsm import (
    ItsmName,
    ItsmNotFound,
    NewNote,
    NewTicket,
    Note,
    ProblemLink,
    Resolution,
    ServiceDeskTicket,
    TicketAction,
    TicketChange,
    TicketKind,
    TicketQuery,
    TicketStatus,
    marker,
)
from domain.servicenow_json import (
    FIELDS,
    action_from_journal,
    format_time,
    parse_time,
    servicenow_update,
    ticket_from_servicenow,
)


class ServiceNowAdapter:
    """One ServiceNow instance. Share one instance per worker (connection pool)."""

    name: ItsmName = "servicenow"

    def __init__(
        self,
        base_url: str,
        user: str,
        password: SecretStr,
        *,
        timeout: float | httpx.Timeout = 20.0,
        auth: Literal["basic", "oauth"] = "basic",
        client_id: str = "",
        client_secret: SecretStr | None = None,
        grant: Literal["password", "client_credentials"] = "password",
    ) -> None:
        root = base_url.rstrip("/") + "/"
        how: httpx.Auth = httpx.BasicAuth(user, password.get_secret_value())
        if auth == "oauth":
            form = {
                "grant_type": grant,
                "client_id": client_id,
                "client_secret": client_secret.get_secret_value() if client_secret else "",
            }
            if grant == "password":
                form |= {"username": user, "password": password.get_secret_value()}
            how = OAuthBearer(f"{root}oauth_token.do", form)
        self.auth = how
        self._http = api_client(
            root + "api/now/table/",
            timeout=timeout,
            auth=how,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        raise_for(response)
        return response.json()["result"]

    async def _rows(self, table: str, query: str, limit: int = 100, fields: str | None = None):
        params = {
            "sysparm_query": query,
            "sysparm_limit": str(limit),
            "sysparm_display_value": "true",
        }
        if fields:
            params["sysparm_fields"] = fields
        return await self._call("GET", table, params=params)

    async def _record(self, number: str) -> dict[str, Any]:
        table = table_of(number)
        rows = await self._rows(table, f"number={number}", 1, f"{FIELDS},sys_id")
        if not rows:
            raise ItsmNotFound(f"no {table} {number}")
        return rows[0]

    # ----- the port ---------------------------------------------------------------------------

    async def get(self, ticket_id: str) -> ServiceDeskTicket:
        return ticket_from_servicenow(await self._record(ticket_id), table_of(ticket_id))

    async def create(self, new: NewTicket) -> ServiceDeskTicket:
        mark = marker(new.key)
        table = "problem" if new.kind == TicketKind.problem else "incident"
        found = await self._rows(table, f"descriptionLIKE{mark}", 1, FIELDS)
        if found:
            return ticket_from_servicenow(found[0], table)
        body = {
            "short_description": new.summary,
            "description": f"{new.details}\n{mark}".strip(),
            "category": new.category,
            "company": new.client,
            "assignment_group": new.team,
            "caller_id": new.user.name,
        }
        if new.priority:
            body["priority"] = new.priority
        created = await self._call("POST", table, json=body)
        return await self.get(created["number"])

    async def update(self, change: TicketChange) -> ServiceDeskTicket:
        record = await self._record(change.ticket_id)
        body = servicenow_update(change.model_copy(update={"note": ""}))
        if body:
            await self._call("PATCH", f"{table_of(change.ticket_id)}/{record['sys_id']}", json=body)
        if change.note:
            await self.add_note(
                NewNote(key=f"{change.key}:note", ticket_id=change.ticket_id, text=change.note)
            )
        return await self.get(change.ticket_id)

    async def add_note(self, note: NewNote) -> Note:
        mark = marker(note.key)
        record = await self._record(note.ticket_id)
        existing = await self._rows(
            "sys_journal_field", f"element_id={record['sys_id']}^valueLIKE{mark}", 1
        )
        if not existing:
            element = "work_notes" if note.internal else "comments"
            body: dict[str, Any] = {element: f"{note.text}\n{mark}"}
            if note.time is not None:
                body["time_worked"] = f"{float(note.time.hours):.2f}"
            table = table_of(note.ticket_id)
            await self._call("PATCH", f"{table}/{record['sys_id']}", json=body)
            existing = await self._rows(
                "sys_journal_field", f"element_id={record['sys_id']}^valueLIKE{mark}", 1
            )
        j = existing[0]
        return Note(
            id=str(j["sys_id"]),
            at=parse_time(j.get("sys_created_on")),
            author=str(j.get("sys_created_by", "")),
            text=str(j.get("value", "")),
            internal=j.get("element") == "work_notes",
        )

    async def link_to_problem(self, link: ProblemLink) -> ServiceDeskTicket:
        problems = await self._rows("problem", f"number={link.problem_id}", 1, "sys_id,number")
        if not problems:
            raise ItsmNotFound(f"no problem {link.problem_id}")
        record = await self._record(link.ticket_id)
        body = {"problem_id": problems[0]["sys_id"]}
        await self._call("PATCH", f"incident/{record['sys_id']}", json=body)
        return await self.get(link.ticket_id)

    async def resolve(self, resolution: Resolution) -> ServiceDeskTicket:
        ticket = await self.get(resolution.ticket_id)
        if ticket.status in (TicketStatus.resolved, TicketStatus.closed):
            return ticket  # resolved by an earlier attempt (or by an agent)
        record = await self._record(resolution.ticket_id)
        body = {
            "state": "6",
            "close_code": resolution.code,
            "close_notes": f"{resolution.notes}\n{marker(resolution.key)}",
        }
        await self._call("PATCH", f"incident/{record['sys_id']}", json=body)
        return await self.get(resolution.ticket_id)

    async def search(self, query: TicketQuery) -> list[ServiceDeskTicket]:
        clauses = []
        if query.changed_since is not None:
            clauses.append(f"sys_updated_on>={format_time(query.changed_since)}")
        if query.open_only:
            clauses.append("active=true")
        clauses.append("ORDERBYsys_updated_on")
        rows = await self._rows("incident", "^".join(clauses), query.limit, FIELDS)
        return [ticket_from_servicenow(r) for r in rows]

    async def actions_since(self, ticket_id: str, after: str | None) -> list[TicketAction]:
        record = await self._record(ticket_id)
        ticket = ticket_from_servicenow(record)
        rows = await self._rows(
            "sys_journal_field", f"element_id={record['sys_id']}^ORDERBYsys_created_on", 1000
        )
        actions = sorted((action_from_journal(j, ticket.user) for j in rows), key=lambda a: a.id)
        return [a for a in actions if after is None or a.id > after]


def table_of(number: str) -> str:
    """The table a record number lives in: PRB… is a problem, anything else an incident."""
    return "problem" if number.upper().startswith("PRB") else "incident"
