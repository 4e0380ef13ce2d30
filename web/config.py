"""Settings only the web app reads: login seams, cookie and codec policy, the dev mailbox.

They sit beside `domain.settings.Settings` (same `DESKFLOW_` prefix, same `.env`) instead of
inside it because nothing but the web app uses them.
"""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.settings import Settings


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKFLOW_WEB_", env_file=".env", extra="ignore")

    # None: the same as DESKFLOW_DEV, which only `deskflow dev` and the tests set. Never
    # decided from the public URL: behind a same-host proxy every caller is loopback.
    dev: bool | None = None
    session_hours: int = 12
    # Only for a plain-HTTP deployment behind nothing at all; browsers accept Secure cookies
    # on http://localhost and http://127.0.0.1, so development does not need this.
    cookie_secure: bool = True
    # Where the SMTP stand-in's mailbox is; None: derived from the TDX stand-in URL in dev.
    mailbox_url: str | None = None
    # OpenID Connect login for production (a seam: see web/security.py `oidc_login`).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WebConfig:
    """The resolved web settings: every "None means decide" answered once at start-up."""

    def __init__(self, settings: Settings, web: WebSettings | None = None) -> None:
        web = web or WebSettings()
        self.web = web
        self.dev = web.dev if web.dev is not None else settings.dev
        self.session_max_age = web.session_hours * 3600
        self.cookie_secure = web.cookie_secure
        # The codec endpoint answers loopback callers without sign-in in development only.
        self.codec_allow_loopback = self.dev
        mailbox = web.mailbox_url
        if mailbox is None and self.dev:
            parts = urlsplit(settings.tdx_base_url)
            mailbox = f"{parts.scheme}://{parts.netloc}/mailbox"
        self.mailbox_url = mailbox
        self.oidc_enabled = bool(web.oidc_issuer and web.oidc_client_id)
        self.temporal_ui_origins = ui_origins(settings.temporal_ui_url)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def ui_origins(url: str) -> frozenset[str]:
    """The Temporal UI's origin; on loopback under each of its names, since the dev server
    prints http://localhost:8233 while the settings say 127.0.0.1 (browsers tell them apart)."""
    parts = urlsplit(url)
    if not is_loopback(parts.hostname):
        return frozenset({f"{parts.scheme}://{parts.netloc}"})
    port = f":{parts.port}" if parts.port else ""
    return frozenset(f"{parts.scheme}://{name}{port}" for name in LOOPBACK_NAMES)
