"""`deskflow doctor`: check a deployment's settings and connections, and say what is wrong.

Run it with the same environment as the worker and the web app (their `.env`, their
service unit's variables) before starting them, or when they misbehave. Each finding is a
sentence an operator can act on; the command fails when any is a problem.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from domain.settings import Settings
from operations import health
from operations.deployment_checks import problems as secret_problems

CONNECT_TIMEOUT_S = 5.0

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    message: str


async def diagnose(settings: Settings) -> list[Finding]:
    """Every finding, in the order an operator would fix them."""
    found = _secrets(settings) + _files(settings) + _topology(settings)
    found += await _temporal(settings)
    found += await _database(settings)
    found += await asyncio.gather(
        _reachable("TDX", settings.tdx_base_url),
        _reachable("Slack", settings.slack_base_url),
        _reachable("SMTP", f"smtp://{settings.smtp_host}:{settings.smtp_port}"),
    )
    return found


def _secrets(settings: Settings) -> list[Finding]:
    found = secret_problems(settings)
    if not found:
        return [Finding("ok", "secrets", "the app secret and codec keys are set")]
    level: Level = "warning" if settings.dev else "problem"
    suffix = " (accepted only because DESKFLOW_DEV is set)" if settings.dev else ""
    return [Finding(level, "secrets", p + suffix) for p in found]


def _files(settings: Settings) -> list[Finding]:
    found = []
    for name in ("temporal_tls_cert", "temporal_tls_key", "temporal_tls_server_ca"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            message = f"DESKFLOW_{name.upper()} names {path}, which is not a file"
            found.append(Finding("problem", "temporal", message))
    if bool(settings.temporal_tls_cert) != bool(settings.temporal_tls_key):
        found.append(
            Finding(
                "problem",
                "temporal",
                "mTLS needs both DESKFLOW_TEMPORAL_TLS_CERT and DESKFLOW_TEMPORAL_TLS_KEY",
            )
        )
    return found


def _topology(settings: Settings) -> list[Finding]:
    found = []
    if settings.database_url.startswith("sqlite") and not settings.dev:
        found.append(
            Finding(
                "warning",
                "database",
                "the app database is SQLite: fine for one worker on one machine; use"
                " PostgreSQL (DESKFLOW_DATABASE_URL=postgresql://...) to run several",
            )
        )
    if urlsplit(settings.public_url).scheme != "https" and not settings.dev:
        found.append(
            Finding(
                "warning",
                "web",
                f"DESKFLOW_PUBLIC_URL is {settings.public_url}: customer links and staff"
                " sessions should travel over https",
            )
        )
    for name in ("metrics_bind", "health_bind"):
        bind = getattr(settings, name)
        if bind and not bind.rpartition(":")[2].isdigit():
            found.append(
                Finding("problem", "ports", f"DESKFLOW_{name.upper()}={bind} is not host:port")
            )
    return found


async def _temporal(settings: Settings) -> list[Finding]:
    from operations.temporal_client import connect

    where = f"{settings.temporal_address} (namespace {settings.temporal_namespace})"
    # Not the metrics port: the worker this doctor is checking may hold it.
    plain = settings.model_copy(update={"metrics_bind": None})
    try:
        client = await asyncio.wait_for(connect(plain), CONNECT_TIMEOUT_S)
    except TimeoutError:
        return [
            Finding(
                "problem",
                "temporal",
                f"Temporal at {where} did not answer within {CONNECT_TIMEOUT_S:g} s:"
                " check TEMPORAL_ADDRESS, the network path and TLS",
            )
        ]
    except Exception as e:  # every failure to connect is reported, not raised
        return [Finding("problem", "temporal", f"cannot connect to Temporal at {where}: {_why(e)}")]
    check = await health.temporal(client)
    return [Finding("ok" if check.ok else "problem", "temporal", check.detail)]


async def _database(settings: Settings) -> list[Finding]:
    from store.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        reachable = await health.database(engine)
        if not reachable.ok:
            return [Finding("problem", "database", reachable.detail)]
        schema = await health.migrations(engine)
    finally:
        engine.dispose()
    return [
        Finding("ok", "database", reachable.detail),
        Finding("ok" if schema.ok else "problem", "database", schema.detail),
    ]


async def _reachable(name: str, url: str) -> Finding:
    """A TCP connection to the service's host and port opens (the protocol is not tried)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80, "smtp": 25}.get(parts.scheme, 443)
    host, port = parts.hostname or "", parts.port or default
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as e:
        return Finding("problem", name, f"cannot reach {name} at {host}:{port}: {_why(e)}")
    writer.close()
    return Finding("ok", name, f"{name} answers at {host}:{port}")


def _why(e: BaseException) -> str:
    """A connection failure in words, not a transport library's debug output."""
    text = str(e)
    if isinstance(e, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused (nothing listens there; check the address and port)"
    if isinstance(e, socket.gaierror) or "dns error" in text or "Name or service" in text:
        return "the host name does not resolve"
    if isinstance(e, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if "certificate" in text.lower() or "tls" in text.lower():
        return f"TLS failed ({text.splitlines()[0][:200]}): check DESKFLOW_TEMPORAL_TLS*"
    return text.splitlines()[0][:300] if text else type(e).__name__
