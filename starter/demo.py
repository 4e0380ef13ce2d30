"""Demo data for `make run`: systems in the TDX stand-in and one batch per refresh config.

Safe to run again: the stand-in is seeded over its control API (it starts empty), and
batches reuse their ids, so tickets already running are reported, never started twice.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import yaml

from domain.refresh import BatchProgress, batch_workflow_id
from domain.settings import Settings
from operations.batches import batch_input, start_batch_input

DEMO = Path(__file__).resolve().parent.parent / "demo"


def seed_tdx(sim_url: str, assets_file: Path = DEMO / "assets.yaml") -> dict[str, list[str]]:
    """Put the demo people and systems into the TDX stand-in; return serials per config."""
    data = yaml.safe_load(assets_file.read_text())
    with httpx.Client(base_url=f"{sim_url}/_sim/tdx", timeout=10) as http:
        for p in data["people"]:
            http.post(
                "/people",
                json={
                    "UserName": p["username"],
                    "UID": p["uid"],
                    "FullName": p["name"],
                    "PrimaryEmail": p["email"],
                },
            ).raise_for_status()
        for systems in data["batches"].values():
            for a in systems:
                http.post(
                    "/assets",
                    json={
                        "SerialNumber": a["serial"],
                        "OwningCustomerID": a["owner"],
                        "SupportingDepartmentName": a["team"],
                        "ManufacturerName": a["maker"],
                        "ProductModelName": a["model"],
                        "LocationName": a["location"],
                        "LocationRoomName": a["room"],
                    },
                ).raise_for_status()
    return {cfg: [a["serial"] for a in systems] for cfg, systems in data["batches"].items()}


async def start_demo_batches(settings: Settings, serials: dict[str, list[str]]) -> list[str]:
    started = []
    for config_id, config_serials in serials.items():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["serial"])
        writer.writerows([s] for s in config_serials)
        inp = batch_input(settings, config_id, f"demo-{config_id}", buf.getvalue(), "demo")
        started.append(await start_batch_input(inp, settings))
    return started


async def wait_for_batches(settings: Settings, batch_ids: list[str]) -> list[BatchProgress]:
    import asyncio

    from operations.temporal_client import connect

    client = await connect(settings)
    results = []
    for batch_id in batch_ids:
        handle = client.get_workflow_handle(batch_workflow_id(batch_id))
        while not (p := await handle.query("progress", result_type=BatchProgress)).done:
            await asyncio.sleep(0.5)
        results.append(p)
    return results


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
