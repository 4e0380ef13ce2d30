"""The one source of configuration: environment variables (prefix DESKFLOW_) and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob an operator can turn; defaults run the local stand-ins from `make run`."""

    model_config = SettingsConfigDict(env_prefix="DESKFLOW_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/deskflow.db"
    timezone: str = "America/Detroit"
    task_queue: str = "deskflow"

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

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "deskflow@example.edu"
    mac_engineering_email: str = "mac-engineering@example.edu"

    slack_base_url: str = "http://127.0.0.1:8090/slack/api/"
    slack_token: SecretStr = SecretStr("xoxb-local-dev")

    tdx_base_url: str = "http://127.0.0.1:8090/TDWebApi/"
    tdx_beid: str = "00000000-0000-0000-0000-000000000000"
    tdx_web_services_key: SecretStr = SecretStr("local-dev-key")
    tdx_app_id: int = 46
    tdx_asset_app_id: int = 47
    tdx_ticket_type_id: int = 1
    tdx_account_id: int = 1
    tdx_new_status_id: int = 1
    tdx_cancelled_status_id: int = 7
    tdx_max_calls_per_minute: int = 55
    tdx_max_creates_per_minute: int = 28

    halo_base_url: str = "http://127.0.0.1:8090/halo/"
    halo_client_id: str = "deskflow"
    halo_client_secret: SecretStr = SecretStr("local-dev-secret")
    halo_tenant: str | None = None  # hosted Halo: ?tenant=NAME on the token request

    # The service desk's ITSM (seed 002): which adapter, its webhook's auth, the catch-up.
    itsm: Literal["halo", "servicenow"] = "halo"
    servicenow_base_url: str = "http://127.0.0.1:8090/servicenow/"
    servicenow_user: str = "deskflow"
    servicenow_password: SecretStr = SecretStr("local-dev-secret")
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
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    codec_keys: SecretStr | None = None  # "keyid:base64key,..." first one encrypts

    @property
    def tdx_task_queue(self) -> str:
        return f"{self.task_queue}-tdx"

    @property
    def tdx_create_task_queue(self) -> str:
        return f"{self.task_queue}-tdx-create"


@lru_cache
def get_settings() -> Settings:
    return Settings()
