"""Activities of the Friday approver digest: who gets one, and sending one.

The send activity reads the approver's tickets itself and hands the rendered list to
`EmailActivities.send_email` (template `approver_digest`, audience `approver`, no ticket), so
the workflow's history carries approver names only, never thousands of ticket rows. The
idempotency key is per approver per Friday: a retry, or a second run the same Friday, finds
the email already sent.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from domain.activity_requests import EmailRequest
from domain.labels import label
from domain.scheduled_jobs import (
    DIGEST_TEMPLATE,
    DigestRecipient,
    DigestRecipientsRequest,
    SendDigestRequest,
    SendDigestResult,
    approver_ticket_url,
    digest_key,
)
from domain.settings import Settings
from store.approver_digest import approvers, recipients, tickets_for
from store.tables import Ticket

WEEK = timedelta(days=7)


class ApproverDigestActivities:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], email: EmailActivities
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.email = email
        self.tz = ZoneInfo(settings.timezone)

    @activity.defn(name="approver_digest_recipients")
    def approver_digest_recipients(self, req: DigestRecipientsRequest) -> list[DigestRecipient]:
        with self.sessions() as db:
            return recipients(db, req.now - WEEK, req.approvers)

    def _ticket_json(self, t: Ticket) -> dict[str, str]:
        existing = (t.state or {}).get("existing_system") or {}
        return {
            "ticket_id": t.ticket_id,
            "user_name": t.user_name,
            "user_uniqname": t.user_uniqname,
            "config_id": t.config_id,
            "existing_serial": t.existing_serial,
            "existing_model": str(existing.get("model", "")),
            "replacement_serial": t.replacement_serial or "",
            "day1": (t.day1.astimezone(self.tz).strftime("%a %b %-d, %-I:%M %p") if t.day1 else ""),
            "link": approver_ticket_url(self.settings.public_url, t.ticket_id),
        }

    def digest_content(self, req: SendDigestRequest) -> tuple[str, str, dict] | None:
        """(name, email, template extras) of the approver's digest; None: nothing to report."""
        with self.sessions() as db:
            found = approvers(db, [req.uniqname]).get(req.uniqname.lower())
            if found is None:
                raise ApplicationError(
                    f"{req.uniqname} is not an approver of any refresh config",
                    type="UnknownApprover",
                    non_retryable=True,
                )
            rows = tickets_for(db, found, req.now - WEEK)
            if not rows:
                return None
            groups: list[dict] = []
            for t in rows:
                if not groups or groups[-1]["status"] != t.status:
                    groups.append({"status": t.status, "label": label(t.status), "tickets": []})
                groups[-1]["tickets"].append(self._ticket_json(t))
        extra = {
            "name": found.name,
            "approver": {"uniqname": found.uniqname, "name": found.name, "email": found.email},
            "friday": req.friday.strftime("%A %B %-d, %Y"),
            "groups": groups,
            "total": len(rows),
            "pending_approval": sum(
                len(g["tickets"]) for g in groups if g["status"] == "pending_approval"
            ),
        }
        return found.name, found.email, extra

    @activity.defn(name="send_approver_digest")
    async def send_approver_digest(self, req: SendDigestRequest) -> SendDigestResult:
        content = await asyncio.to_thread(self.digest_content, req)
        if content is None:
            return SendDigestResult(uniqname=req.uniqname, email="", tickets=0, sent=False)
        _, email, extra = content
        result = await self.email.send_email(
            EmailRequest(
                key=digest_key(req.uniqname, req.friday),
                ticket_id="",
                template=DIGEST_TEMPLATE,
                audience="approver",
                to=email,
                ticket=None,
                extra=extra,
            )
        )
        return SendDigestResult(
            uniqname=req.uniqname,
            email=result.to,
            tickets=extra["total"],
            sent=True,
            already_sent=result.already_sent,
        )
