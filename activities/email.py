"""send_email: render a Jinja2 template and deliver it once per idempotency key.

The email log row is claimed before the SMTP conversation and marked sent after it, so a
retried activity finds `sent` and stops. Delivery is at least once, by necessity: SMTP gives
a client that lost the server's answer to the end of DATA no way to learn whether the
message was taken (RFC 1047), and no server-side key to send it "only if new". So the
Message-ID is derived from the key: should a worker die in the instant between the
server's 250 and the log update, the one resend carries the same Message-ID, and mail
systems (Exchange's duplicate detection, Gmail) keep one message per Message-ID.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import meter
from domain import metrics
from domain.activity_requests import EmailRequest, EmailResult
from domain.customer_links import sign
from domain.ics import appointment_ics
from domain.labels import label, replacement_note
from domain.settings import Settings
from store.tables import EmailLog

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


def email_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
    )
    # People's words for codes (domain.labels), the same table the pages use.
    env.filters.update(label=label)
    env.globals.update(replacement_note=replacement_note)
    return env


class EmailActivities:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.jinja = email_environment()

    def render(self, req: EmailRequest, to: str) -> tuple[str, str, str]:
        """(subject, text, html) of a template; the text part's first line is the subject."""
        t = req.ticket
        tz = ZoneInfo(self.settings.timezone)
        day1 = ""
        if t and t.slot:
            day1 = t.slot.start.astimezone(tz).strftime("%A %B %-d, %Y at %-I:%M %p")
        link = ""
        if req.ticket_id:  # ticket-less emails (the approver digest) carry no customer link
            token = sign(self.settings.secret_key.get_secret_value(), req.ticket_id, to)
            link = f"{self.settings.public_url}/c/{token}"
        ctx = {
            "t": t,
            "name": t.recipient_name if t else "",
            "link": link,
            "public_url": self.settings.public_url,
            "day1": day1,
            **req.extra,
        }
        text = self.jinja.get_template(f"{req.template}.txt").render(ctx)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject: "):
            raise ApplicationError(f"template {req.template}.txt must start with 'Subject: '")
        html = self.jinja.get_template(f"{req.template}.html").render(ctx)
        return first.removeprefix("Subject: ").strip(), body.lstrip("\n"), html

    def _recipient(self, req: EmailRequest) -> str:
        if req.to:
            return req.to
        if req.audience == "mac_engineering":
            return self.settings.mac_engineering_email
        if req.ticket is None:
            raise ApplicationError("customer email without a ticket", non_retryable=True)
        return req.ticket.recipient

    def _claim(self, req: EmailRequest, to: str, subject: str, message_id: str) -> EmailLog | None:
        """Insert the log row (status sending); None if this key was already sent."""
        with self.sessions.begin() as db:
            row = db.scalar(select(EmailLog).where(EmailLog.idem_key == req.key))
            if row is not None:
                db.expunge(row)
                return None if row.status == "sent" else row
            row = EmailLog(
                idem_key=req.key,
                ticket_id=req.ticket_id or None,
                template=req.template,
                to_addr=to,
                subject=subject,
                message_id=message_id,
                status="sending",
                created_at=datetime.now(UTC),
            )
            try:
                db.add(row)
                db.flush()
            except IntegrityError:
                return None
            db.expunge(row)
            return row

    def _mark(self, key: str, status: str, error: str | None = None) -> datetime:
        now = datetime.now(UTC)
        with self.sessions.begin() as db:
            row = db.scalar(select(EmailLog).where(EmailLog.idem_key == key))
            assert row is not None
            row.status, row.error = status, error
            if status == "sent":
                row.sent_at = now
            return row.sent_at or now

    def _sent_row(self, key: str) -> EmailLog:
        with self.sessions() as db:
            row = db.scalar(select(EmailLog).where(EmailLog.idem_key == key))
            assert row is not None
            db.expunge(row)
            return row

    @activity.defn(name="send_email")
    async def send_email(self, req: EmailRequest) -> EmailResult:
        to = self._recipient(req)
        subject, text, html = self.render(req, to)
        message_id = f"<{hashlib.sha256(req.key.encode()).hexdigest()[:32]}@deskflow>"
        claimed = await asyncio.to_thread(self._claim, req, to, subject, message_id)
        if claimed is None:
            row = await asyncio.to_thread(self._sent_row, req.key)
            return EmailResult(
                to=row.to_addr,
                sent_at=row.sent_at or row.created_at,
                message_id=row.message_id,
                already_sent=True,
            )
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = message_id
        if req.ticket_id:
            msg["X-Deskflow-Ticket"] = req.ticket_id
        msg["X-Deskflow-Template"] = req.template
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        if req.template == "appointment_confirmation" and req.ticket and req.ticket.slot:
            msg.add_attachment(
                appointment_ics(req.ticket, self.settings.public_url),
                maintype="text",
                subtype="calendar",
                filename="appointment.ics",
                params={"method": "PUBLISH"},
            )
        try:
            await aiosmtplib.send(
                msg,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_user,
                password=(
                    self.settings.smtp_password.get_secret_value()
                    if self.settings.smtp_password
                    else None
                ),
                timeout=20,
            )
        except aiosmtplib.SMTPException as e:
            metrics.EMAILS_FAILED.add(meter.current(), template=req.template)
            await asyncio.to_thread(self._mark, req.key, "failed", str(e)[:500])
            raise ApplicationError(f"SMTP refused {req.template} to {to}: {e}") from e
        metrics.EMAILS_SENT.add(meter.current(), template=req.template)
        sent_at = await asyncio.to_thread(self._mark, req.key, "sent")
        return EmailResult(to=to, sent_at=sent_at, message_id=message_id, already_sent=False)
