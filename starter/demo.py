"""Demo data for `make run`: systems in the TDX stand-in, one batch per refresh config, and
each new demo customer's invite sent at once (`send_invite_now`), so the mailbox holds a
wizard link within a minute of the start.

Safe to run again: people and systems already in TDX are not added twice (the stand-in may
keep them across restarts), a batch that ran once is not started again, and tickets already
running are reported, never started twice.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import httpx
import yaml
from temporalio.client import Client
from temporalio.service import RPCError

from domain.refresh import BatchProgress, Status, batch_workflow_id
from domain.settings import Settings
from operations import tickets
from operations.batches import batch_input, start_batch_input
from operations.errors import FieldError

DEMO = Path(__file__).resolve().parent.parent / "demo"
DEMO_ACTOR = "demo"


def _asset_fields(a: dict) -> dict:
    return {
        "SerialNumber": a["serial"],
        "OwningCustomerID": a.get("owner"),
        "SupportingDepartmentName": a.get("team", ""),
        "ManufacturerName": a["maker"],
        "ProductModelName": a["model"],
        "LocationName": a.get("location", ""),
        "LocationRoomName": a.get("room", ""),
    }


def seed_tdx(
    settings: Settings, sim_url: str, assets_file: Path = DEMO / "assets.yaml"
) -> dict[str, list[str]]:
    """Put the demo people, systems and replacement stock into the TDX stand-in (each system
    once: TDX's own asset search says which are there); return serials per config."""
    data = yaml.safe_load(assets_file.read_text())
    systems = [a for batch in data["batches"].values() for a in batch] + data.get("stock", [])
    api = settings.tdx_base_url.rstrip("/") + "/api"
    with httpx.Client(timeout=10) as http:
        for p in data["people"]:
            http.post(
                f"{sim_url}/_sim/tdx/people",
                json={
                    "UserName": p["username"],
                    "UID": p["uid"],
                    "FullName": p["name"],
                    "PrimaryEmail": p["email"],
                },
            ).raise_for_status()
        login = http.post(
            f"{api}/auth/loginadmin",
            json={
                "BEID": settings.tdx_beid,
                "WebServicesKey": settings.tdx_web_services_key.get_secret_value(),
            },
        )
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.text.strip().strip(chr(34))}"}
        for a in systems:
            found = http.post(
                f"{api}/{settings.tdx_asset_app_id}/assets/search",
                json={"SerialLike": a["serial"]},
                headers=auth,
            )
            found.raise_for_status()
            if any(x.get("SerialNumber") == a["serial"] for x in found.json()):
                continue
            http.post(f"{sim_url}/_sim/tdx/assets", json=_asset_fields(a)).raise_for_status()
    return {cfg: [a["serial"] for a in batch] for cfg, batch in data["batches"].items()}


async def start_demo_batches(settings: Settings, serials: dict[str, list[str]]) -> list[str]:
    """Start each config's demo batch unless it ran before (then only report it)."""
    from operations.temporal_client import connect

    client = await connect(settings)
    batches = []
    for config_id, config_serials in serials.items():
        batch_id = f"demo-{config_id}"
        batches.append(batch_id)
        try:
            await client.get_workflow_handle(batch_workflow_id(batch_id)).describe()
            continue  # started by an earlier `make run`
        except RPCError:
            pass
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["serial"])
        writer.writerows([s] for s in config_serials)
        inp = batch_input(settings, config_id, batch_id, buf.getvalue(), "demo")
        await start_batch_input(inp, settings)
    return batches


async def wait_for_batches(settings: Settings, batch_ids: list[str]) -> list[BatchProgress]:
    from operations.temporal_client import connect

    client = await connect(settings)
    results = []
    for batch_id in batch_ids:
        handle = client.get_workflow_handle(batch_workflow_id(batch_id))
        while not (p := await handle.query("progress", result_type=BatchProgress)).done:
            await asyncio.sleep(0.5)
        results.append(p)
    return results


async def invite_now(client: Client, ticket_ids: list[str], timeout: float = 60) -> list[str]:
    """`send_invite_now` to each ticket still waiting for its invite, once it is set up (it
    has an invite time then). Returns the tickets invited."""
    invited, waiting = [], list(ticket_ids)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while waiting and loop.time() < deadline:
        for tid in list(waiting):
            s = await tickets.state(client, tid)
            if s.status != Status.pending_invite:
                waiting.remove(tid)
            elif s.invite_at is not None:
                try:
                    await tickets.update(
                        client,
                        tid,
                        "send_invite_now",
                        {"actor": DEMO_ACTOR, "reason": "demo: invite at once"},
                    )
                    invited.append(tid)
                except FieldError:
                    pass  # sent meanwhile
                waiting.remove(tid)
        if waiting:
            await asyncio.sleep(0.5)
    return invited


DEMO_DESK_TICKETS = [
    {"summary": "Écran noir au démarrage", "category_1": "Hardware - Laptop", "priority_id": 2},
    {"summary": "Compte verrouillé", "category_1": "Account lockout", "priority_id": 3},
    {"summary": "Demande d'accès au partage Finance", "category_1": "", "priority_id": 4},
]


def seed_service_desk(sim_url: str) -> int:
    """Log a few demo tickets in the Halo stand-in if it has none (it keeps them across
    restarts); each one reaches deskflow through the webhook like a real one. Returns how
    many were logged."""
    with httpx.Client(base_url=f"{sim_url}/_sim/halo", timeout=10, follow_redirects=True) as http:
        if http.get("/tickets").json():
            return 0
        for t in DEMO_DESK_TICKETS:
            http.post("/tickets", data={k: str(v) for k, v in t.items()}).raise_for_status()
    return len(DEMO_DESK_TICKETS)
