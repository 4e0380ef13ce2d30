"""SMTP stand-in and a browser mailbox for what the product sends.

aiosmtpd receives mail on loopback; every message is parsed with the `email` package and kept
(raw, in a SQLite file given as `path`, so the mailbox survives a restart; ":memory:" for
throwaway tests) so tests can assert on recipients, the `X-Deskflow-Ticket` / `X-Deskflow-Template`
headers and the rendered parts, and people can read it at `/mailbox`. The server can be told
to refuse the next messages with a temporary (451) or permanent (554) error, to prove that the
email activity retries without ever sending twice.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email
import email.policy
import html
import socket
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from sim.itsm_common import DocStore

MAILBOX_PREFIX = "/mailbox"
CONTROL_PREFIX = "/_sim/smtp"

_REFUSALS = {
    451: "451 4.3.0 Simulated temporary failure, try again later",
    554: "554 5.0.0 Simulated permanent failure, message refused",
}


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    content: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.content),
        }


@dataclass(frozen=True)
class MailMessage:
    """One received message, parsed."""

    id: int
    received_at: datetime
    envelope_from: str
    envelope_to: list[str]
    from_: str
    to: list[str]
    cc: list[str]
    subject: str
    headers: dict[str, str]
    ticket: str | None
    template: str | None
    text: str | None
    html: str | None
    attachments: list[MailAttachment]
    raw: bytes = field(repr=False)

    def addressed_to(self, address: str) -> bool:
        """True if `address` is an envelope recipient or in To/Cc, ignoring case."""
        wanted = address.strip().lower()
        return any(wanted == rcpt.lower() for rcpt in [*self.envelope_to, *self.to, *self.cc])

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat().replace("+00:00", "Z"),
            "envelope_from": self.envelope_from,
            "envelope_to": self.envelope_to,
            "from": self.from_,
            "to": self.to,
            "cc": self.cc,
            "subject": self.subject,
            "ticket": self.ticket,
            "template": self.template,
            "headers": self.headers,
            "text": self.text,
            "html": self.html,
            "attachments": [attachment.to_json() for attachment in self.attachments],
        }


def _addresses(message: EmailMessage, header: str) -> list[str]:
    return [address for _, address in getaddresses(message.get_all(header, [])) if address]


def _header(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    return str(value).strip() if value is not None else None


def parse_message(
    message_id: int, envelope_from: str, envelope_to: list[str], raw: bytes
) -> MailMessage:
    """Parse raw RFC 5322 bytes into a `MailMessage`."""
    parsed = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    attachments = [
        MailAttachment(
            filename=part.get_filename() or "attachment",
            content_type=part.get_content_type(),
            content=part.get_payload(decode=True) or b"",
        )
        for part in parsed.iter_attachments()
        if isinstance(part, EmailMessage)
    ]
    return MailMessage(
        id=message_id,
        received_at=datetime.now(UTC),
        envelope_from=envelope_from,
        envelope_to=list(envelope_to),
        from_=str(parsed.get("From", "")),
        to=_addresses(parsed, "To"),
        cc=_addresses(parsed, "Cc"),
        subject=str(parsed.get("Subject", "")),
        headers={name: str(value) for name, value in parsed.items()},
        ticket=_header(parsed, "X-Deskflow-Ticket"),
        template=_header(parsed, "X-Deskflow-Template"),
        text=text_part.get_content() if text_part is not None else None,
        html=html_part.get_content() if html_part is not None else None,
        attachments=attachments,
        raw=raw,
    )


class MailStore:
    """Received messages and pending refusals.

    The SMTP server runs on its own thread (aiosmtpd's Controller), so every access goes
    through a lock.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.Lock()
        self._store = DocStore(path)
        self._messages: list[MailMessage] = sorted(
            (self._revive(body) for body in self._store.all("message")), key=lambda m: m.id
        )
        self._refusals: list[int] = []

    @staticmethod
    def _revive(body: dict[str, Any]) -> MailMessage:
        """A kept message as it was received (parsed again from its raw bytes)."""
        message = parse_message(
            body["id"], body["envelope_from"], body["envelope_to"], base64.b64decode(body["raw"])
        )
        return dataclasses.replace(message, received_at=datetime.fromisoformat(body["at"]))

    def _keep(self, message: MailMessage) -> None:
        self._store.put(
            "message",
            message.id,
            {
                "id": message.id,
                "at": message.received_at.isoformat(),
                "envelope_from": message.envelope_from,
                "envelope_to": message.envelope_to,
                "raw": base64.b64encode(message.raw).decode("ascii"),
            },
        )

    @property
    def messages(self) -> list[MailMessage]:
        """All messages, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def fail_next(self, count: int = 1, code: Literal[451, 554] = 451) -> None:
        """Refuse the next `count` messages at DATA with `code`."""
        with self._lock:
            self._refusals.extend([code] * count)

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()

    def clear(self) -> None:
        """Forget all messages and pending refusals (numbering goes on)."""
        with self._lock:
            self._messages.clear()
            self._refusals.clear()
            self._store.clear()

    def find(
        self, *, to: str | None = None, ticket: str | None = None, template: str | None = None
    ) -> list[MailMessage]:
        """Messages matching every given filter, newest first."""
        return [
            message
            for message in reversed(self.messages)
            if (to is None or message.addressed_to(to))
            and (ticket is None or message.ticket == ticket)
            and (template is None or message.template == template)
        ]

    def get(self, message_id: int) -> MailMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd hook: store the message, or refuse it if a refusal is pending."""
        with self._lock:
            if self._refusals:
                return _REFUSALS[self._refusals.pop(0)]
            message_id = self._store.next_id("message")
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        message = parse_message(message_id, envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        with self._lock:
            self._keep(message)
            self._messages.append(message)
        return "250 2.0.0 Message accepted for delivery"


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Any credentials pass, so a configured DESKFLOW_SMTP_USER works against the stand-in."""
    return AuthResult(success=True)


def bind_tcp_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for a server to listen on; port 0 picks a free port.

    The protocol is given explicitly because asyncio only turns Nagle off (TCP_NODELAY) on
    connections accepted from sockets that declare IPPROTO_TCP; without it every small
    response waits ~40 ms for a delayed ACK on loopback.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class _BoundController(Controller):
    """A Controller serving on a socket bound beforehand, so port 0 yields a free port."""

    def __init__(self, handler: MailStore, sock: socket.socket, **smtp_kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **smtp_kwargs)
        self._sock = sock

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpServer:
    """The SMTP listener: `start()` binds and serves on a background thread, `stop()` ends it."""

    def __init__(self, store: MailStore, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._controller: _BoundController | None = None

    def start(self) -> None:
        sock = bind_tcp_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._controller = _BoundController(
            self.store,
            sock,
            authenticator=_accept_any_login,
            auth_require_tls=False,
            server_hostname="deskflow-sim",
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def astart(self) -> None:
        """`start()` off the event loop: the controller blocks until its thread is serving."""
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)


class _Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = 1
    code: Literal[451, 554] = 451


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; }}
th {{ background: #f4f4f4; }}
pre {{ background: #f8f8f8; padding: 1rem; white-space: pre-wrap; }}
iframe {{ width: 100%; height: 32rem; border: 1px solid #ccc; }}
.muted {{ color: #777; }}
</style></head>
<body>{body}</body></html>"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body))


def _list_page(messages: list[MailMessage]) -> HTMLResponse:
    rows = "".join(
        "<tr><td>{at}</td><td>{to}</td><td><a href='{prefix}/{id}'>{subject}</a></td>"
        "<td>{template}</td><td>{ticket}</td></tr>".format(
            at=html.escape(m.received_at.strftime("%Y-%m-%d %H:%M:%S")),
            to=html.escape(", ".join(m.to or m.envelope_to)),
            prefix=MAILBOX_PREFIX,
            id=m.id,
            subject=html.escape(m.subject or "(no subject)"),
            template=html.escape(m.template or ""),
            ticket=html.escape(m.ticket or ""),
        )
        for m in messages
    )
    table = (
        "<table><tr><th>Received (UTC)</th><th>To</th><th>Subject</th><th>Template</th>"
        f"<th>Ticket</th></tr>{rows}</table>"
        if messages
        else "<p class='muted'>No messages yet.</p>"
    )
    return _page(
        "Mailbox", f"<h1>Mailbox</h1><p>{len(messages)} message(s), newest first.</p>{table}"
    )


def _message_page(message: MailMessage) -> HTMLResponse:
    headers = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in message.headers.items()
    )
    parts = [f"<p><a href='{MAILBOX_PREFIX}'>&larr; all messages</a></p>"]
    parts.append(f"<h1>{html.escape(message.subject or '(no subject)')}</h1>")
    parts.append(f"<table>{headers}</table>")
    if message.html is not None:
        parts.append("<h2>HTML part</h2>")
        parts.append(f'<iframe sandbox srcdoc="{html.escape(message.html, quote=True)}"></iframe>')
    if message.text is not None:
        parts.append(f"<h2>Text part</h2><pre>{html.escape(message.text)}</pre>")
    if message.attachments:
        items = "".join(
            f"<li>{html.escape(a.filename)} ({html.escape(a.content_type)}, {len(a.content)} "
            "bytes)</li>"
            for a in message.attachments
        )
        parts.append(f"<h2>Attachments</h2><ul>{items}</ul>")
    return _page(message.subject or "Message", "".join(parts))


def build_router(store: MailStore) -> APIRouter:
    """The mailbox pages and JSON API under `/mailbox`, and refusals under `/_sim/smtp`."""
    router = APIRouter()

    @router.get(f"{MAILBOX_PREFIX}/api/messages", tags=["sim: mailbox"])
    async def list_messages(
        to: str | None = None, ticket: str | None = None, template: str | None = None
    ) -> list[dict[str, Any]]:
        return [m.to_json() for m in store.find(to=to, ticket=ticket, template=template)]

    @router.get(f"{MAILBOX_PREFIX}/api/messages/{{message_id}}", tags=["sim: mailbox"])
    async def get_message(message_id: int) -> dict[str, Any]:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, f"Message {message_id} was not found.")
        return message.to_json()

    @router.delete(f"{MAILBOX_PREFIX}/api/messages", tags=["sim: mailbox"])
    async def clear_messages() -> Response:
        store.clear()
        return Response(status_code=204)

    @router.get(MAILBOX_PREFIX, response_class=HTMLResponse, include_in_schema=False)
    async def mailbox() -> HTMLResponse:
        return _list_page(store.find())

    @router.get(
        f"{MAILBOX_PREFIX}/{{message_id}}", response_class=HTMLResponse, include_in_schema=False
    )
    async def message_page(message_id: int) -> HTMLResponse:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, f"Message {message_id} was not found.")
        return _message_page(message)

    @router.post(f"{CONTROL_PREFIX}/refusals", tags=["sim: smtp"])
    async def refuse(body: _Refusal) -> Response:
        store.fail_next(body.count, body.code)
        return Response(status_code=204)

    return router
