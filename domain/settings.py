"""The one source of configuration: environment variables (prefix DESKFLOW_) and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.tdx_queues import TdxQueue, tdx_queue


class Settings(BaseSettings):
    """Every knob an operator can turn; defaults run the local stand-ins from `make run`."""

    model_config = SettingsConfigDict(env_prefix="DESKFLOW_", env_file=".env", extra="ignore")

    # True only under `deskflow dev` (which sets DESKFLOW_DEV for its children) and in tests:
    # the public default secret and a derived codec key are accepted, loopback is trusted.
    dev: bool = False

    database_url: str = "sqlite:///var/deskflow.db"
    timezone: str = "America/Detroit"
    task_queue: str = "deskflow"
    # Workflows a worker keeps in memory (DESKFLOW_WORKER_CACHE_SIZE). A cached ticket
    # answers a message or query at once; an evicted one is replayed from its history first
    # (about 50 ms instead of 7). Each costs memory: see docs/benchmarks.md for the figure.
    worker_cache_size: int = Field(1000, ge=0)

    temporal_address: str = Field(
        "localhost:7233",
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "DESKFLOW_TEMPORAL_ADDRESS"),
    )
    temporal_namespace: str = Field(
        "default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "DESKFLOW_TEMPORAL_NAMESPACE"),
    )
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    # mTLS to a self-hosted cluster or Temporal Cloud: PEM files of the client certificate and
    # key (and the server's CA when it is not a public one). Setting them turns TLS on.
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_server_ca: str | None = None
    # gRPC compression between deskflow and Temporal. Off by default: every payload is
    # deflated, then encrypted, by the payload codec before it leaves the process, and
    # ciphertext does not compress, so gzip spent CPU at both ends for nothing (15-20 % of a
    # client's CPU per update, docs/benchmarks.md). "gzip" for a thin link to a far cluster.
    temporal_grpc_compression: Literal["none", "gzip"] = "none"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "deskflow@example.edu"
    mac_engineering_email: str = "mac-engineering@example.edu"

    slack_base_url: str = "http://127.0.0.1:8090/slack/api/"
    slack_token: SecretStr = SecretStr("xoxb-local-dev")
    # How long deskflow waits for Slack's answer, and how long after that Slack may still
    # carry a post out: a retry that cannot find an earlier post in the channel's history
    # waits until then before posting again. The wait must end well inside the 30 s the
    # workflows give a Slack activity, or Temporal would time out every attempt first.
    slack_timeout_seconds: float = Field(20.0, gt=0, le=25)
    slack_post_settle_seconds: float = Field(60.0, ge=0)

    tdx_base_url: str = "http://127.0.0.1:8090/TDWebApi/"
    tdx_beid: str = "00000000-0000-0000-0000-000000000000"
    tdx_web_services_key: SecretStr = SecretStr("local-dev-key")
    tdx_app_id: int = 46
    tdx_asset_app_id: int = 47
    tdx_ticket_type_id: int = 1
    tdx_account_id: int = 1
    tdx_new_status_id: int = 1
    tdx_cancelled_status_id: int = 7
    # TDX's own per-method limits per rate window (60, and 30 for ticket creation): the TDX
    # queues start activities at that pace, all workers together, and the count the workers
    # share in the app database (`store.tdx_windows`) holds back what would overrun a
    # window. The window is TDX's 60 s; the stand-in can be told a shorter one.
    tdx_max_calls_per_minute: float = 60
    tdx_max_creates_per_minute: float = 30
    tdx_rate_window_seconds: float = 60.0
    # The end of each window in which no call starts: one sent then could reach TDX after
    # its window ended and be counted in the next one as well (network and stalls).
    tdx_rate_guard_seconds: float = 1.0
    # How long deskflow waits for a TDX answer, and how long after sending a create TDX may
    # still carry it out (its longest processing time, with margin): a retry that cannot
    # see the first create's marker waits that long before creating again.
    tdx_timeout_seconds: float = 20.0
    # After a 429, wait at least this long (TDX asks for a margin past its reset, for skew).
    tdx_min_retry_after_seconds: float = 5.0
    tdx_create_settle_seconds: float = 300.0

    halo_base_url: str = "http://127.0.0.1:8090/halo/"
    halo_client_id: str = "deskflow"
    halo_client_secret: SecretStr = SecretStr("local-dev-secret")
    halo_tenant: str | None = None  # hosted Halo: ?tenant=NAME on the token request

    # The service desk's ITSM (seed 002): which adapter, its webhook's auth, the catch-up.
    itsm: Literal["halo", "servicenow"] = "halo"
    servicenow_base_url: str = "http://127.0.0.1:8090/servicenow/"
    servicenow_user: str = "deskflow"
    servicenow_password: SecretStr = SecretStr("local-dev-secret")
    # Basic (user and password on each call) or OAuth 2.0 (a bearer token from
    # /oauth_token.do: grant "password" with the user above, or "client_credentials").
    servicenow_auth: Literal["basic", "oauth"] = "basic"
    servicenow_oauth_grant: Literal["password", "client_credentials"] = "password"
    servicenow_client_id: str = "deskflow"
    servicenow_client_secret: SecretStr = SecretStr("local-dev-secret")
    # How the ITSM authenticates its webhook to /hooks/{itsm}: basic ("user:password"),
    # bearer (the token) or apikey ("Header-Name:value").
    halo_webhook_auth: Literal["basic", "bearer", "apikey"] = "bearer"
    halo_webhook_secret: SecretStr = SecretStr("local-dev-halo-hook")
    servicenow_webhook_auth: Literal["basic", "bearer", "apikey"] = "basic"
    servicenow_webhook_secret: SecretStr = SecretStr("servicenow:local-dev-sn-hook")
    itsm_catch_up_minutes: int = Field(5, ge=1, le=60)
    # After-hours paging (seed 004): PagerDuty's Events API v2 (https://events.pagerduty.com/).
    pagerduty_events_url: str = "http://127.0.0.1:8090/pagerduty/"

    public_url: str = "http://127.0.0.1:8000"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # Signs staff sessions and customer links; outside `deskflow dev` the web app and the
    # worker refuse to start with this default (make one: `deskflow secrets`).
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    # "keyid:base64key,..." the first one encrypts; required outside `deskflow dev`.
    codec_keys: SecretStr | None = None
    # Exhibit A passwords at rest (provisioning): same "keyid:base64key,..." form; first
    # encrypts, all decrypt; required outside `deskflow dev` (there, derived from secret_key).
    at_rest_keys: SecretStr | None = None

    # Operability (README "Operating deskflow"): each process's own ports, traces and logs.
    # "host:port" where this process serves Prometheus metrics (the Temporal SDK's runtime
    # metrics and deskflow's series); None: none. Each process on a host needs its own.
    metrics_bind: str | None = None
    # "host:port" where a worker answers /healthz and /readyz; None: no health port.
    health_bind: str | None = None
    # OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; None: tracing off.
    # The exporter reads OTEL_EXPORTER_OTLP_HEADERS for the collector's credentials.
    otlp_traces_endpoint: str | None = None
    # "json": one JSON object per line; "text": for people. None: text under dev, else json.
    log_format: Literal["json", "text"] | None = None
    log_level: str = "INFO"
    # The reverse proxies whose X-Forwarded-For/-Proto `deskflow web` believes (comma-separated
    # addresses); a request from anywhere else is taken at its socket's address.
    trusted_proxies: str = "127.0.0.1"

    def tdx_ticket_url(self, tdx_id: int) -> str:
        """The ticket's page in TDX's own UI (TDNext), where staff follow its links."""
        base = self.tdx_base_url.rstrip("/").removesuffix("/TDWebApi")
        return f"{base}/TDNext/Apps/{self.tdx_app_id}/Tickets/TicketDet?TicketID={tdx_id}"

    def tdx_queue(self, kind: TdxQueue) -> str:
        """The task queue of one kind of TDX call (see `domain.tdx_queues`)."""
        return tdx_queue(self.task_queue, kind)

    def tdx_queue_rate(self, kind: TdxQueue) -> float:
        """Activities per second that queue may start, all workers together: TDX's steady rate.

        The Temporal server's limiter lets a second's worth through at once and a stalled
        worker sends its delayed calls together; the shared window count absorbs both.
        """
        per_window = (
            self.tdx_max_creates_per_minute
            if kind == "ticket_create"
            else self.tdx_max_calls_per_minute
        )
        return per_window / self.tdx_rate_window_seconds


@lru_cache
def get_settings() -> Settings:
    return Settings()
