"""Settings for deskflow's real clients, pointed at a running set of stand-ins."""

from __future__ import annotations

from domain.settings import Settings
from sim.app import SimServer


def settings_for(sim: SimServer, base: Settings | None = None) -> Settings:
    """`base` (default: the environment, no .env) with every URL pointing at `sim`."""
    return (base or Settings(_env_file=None)).model_copy(
        update={
            "tdx_base_url": sim.tdx_base_url,
            "slack_base_url": sim.slack_base_url,
            "smtp_host": sim.smtp_host,
            "smtp_port": sim.smtp_port,
            "halo_base_url": sim.halo_base_url,
            "servicenow_base_url": sim.servicenow_base_url,
            "pagerduty_events_url": sim.paging_base_url,
        }
    )
