"""Telling running tickets that their refresh config changed.

Each ticket reloads the config before its next step and takes what reaches it by the rules
the editor's preview showed (domain.config_changes); a ticket that ended meanwhile is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError

from domain.refresh import ConfigChanged, workflow_id
from store.config_history import running_tickets


def running_ticket_ids(db: Session, config_id: str) -> list[str]:
    return [t.ticket_id for t in running_tickets(db, config_id)]


async def tell_running_tickets(
    client: Client, ticket_ids: list[str], config_id: str, version: int, actor: str
) -> int:
    """Signal `config_changed` to each running ticket of the config; how many were told."""
    msg = ConfigChanged(config_id=config_id, version=version, actor=actor)

    async def one(ticket_id: str) -> bool:
        with contextlib.suppress(RPCError):  # ended since the projection was read
            await client.get_workflow_handle(workflow_id(ticket_id)).signal("config_changed", msg)
            return True
        return False

    return sum(await asyncio.gather(*(one(t) for t in ticket_ids)))
