"""Refresh configs in the staff console: one set of rules with `deskflow load`, every change
recorded, an edit's effect on running tickets shown before saving, and every refusal."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import httpx
import pytest
import yaml

from store.db import make_engine, session_factory
from store.reference import ReferenceDataError, load_reference_file, parse_reference_file
from tests.web.helpers import BASE, bearer
from web.app import create_app
from web.config import WebSettings

IDS = count(1)

GOOD = {
    "name": "History dept. refresh",
    "org": "LSA",
    "default_style": "on_prem",
    "requires_approval": True,
    "approvers": [{"uniqname": "appr1", "name": "Ada Approver", "email": "appr1@example.edu"}],
    "options": {"can_customize_computer": True, "can_customize_software": True},
    "approved_models": [
        {"org": "LSA", "platform": "windows", "model": "Dell Latitude 7450"},
        {"org": "LSA", "platform": "mac", "model": "MacBook Air 13 M4"},
    ],
    "proposed_models": {"windows": "Dell Latitude 7450", "mac": "MacBook Air 13 M4"},
    "peripheral_bundle": ["Dock WD22TB4"],
    "peripheral_catalog": ["Dock WD22TB4", "Headset H5"],
    "software_catalog": ["MATLAB"],
    "prestage_group": "LSA-Refresh-2027",
}


def fresh(**changes) -> dict:
    """GOOD under a new id (the database lives for the whole test session)."""
    config = copy.deepcopy(GOOD) | {"id": f"cfg-test-{next(IDS)}"}
    config.update(changes)
    return config


def without_email(config: dict) -> dict:
    config["approvers"] = [{"uniqname": "appr2", "name": "No Mail"}]
    return config


# Each: an invalid config, and the field path (as the API names it) the rules point at.
INVALID = {
    "approver without an email": (lambda: without_email(fresh()), "approvers.0.email"),
    "approver with a bad email": (
        lambda: fresh(approvers=[{"uniqname": "x", "name": "X", "email": "not-mail"}]),
        "approvers.0.email",
    ),
    "proposed model not approved": (
        lambda: fresh(proposed_models={"windows": "HP EliteBook", "mac": "MacBook Air 13 M4"}),
        "proposed_models.windows",
    ),
    "unit location config without a location": (
        lambda: fresh(default_style="unit_location"),
        "unit_location",
    ),
    "a location on another style": (lambda: fresh(unit_location="Room 1"), "unit_location"),
    "approval without approvers": (lambda: fresh(approvers=[]), "requires_approval"),
    "bundle item not in the catalog": (
        lambda: fresh(peripheral_bundle=["Monitor P2425H"]),
        "peripheral_bundle.0",
    ),
    "unknown support team": (lambda: fresh(support_team="nit-nowhere"), "support_team"),
    "unknown style": (lambda: fresh(default_style="drive_by"), "default_style"),
    "unknown option": (lambda: fresh(options={"can_fly": True}), "options.can_fly"),
    "approver listed twice": (
        lambda: fresh(approvers=GOOD["approvers"] * 2),
        "approvers.1.uniqname",
    ),
    "model on an unknown platform": (
        lambda: fresh(approved_models=[{"org": "LSA", "platform": "linux", "model": "X1"}]),
        "approved_models.0.platform",
    ),
    "no name": (lambda: fresh(name=""), "name"),
}


def loader_problems(tmp_path: Path, db_url: str, config: dict) -> dict[str, str]:
    """What `deskflow load` says of a file holding only this config, by API-style path."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"refresh_configs": [config]}, sort_keys=False))
    with session_factory(make_engine(db_url))() as db, pytest.raises(ReferenceDataError) as exc:
        parse_reference_file(path, db)
    found = {}
    for problem in exc.value.problems:
        where = problem.path.removeprefix("refresh_configs[0]").lstrip(".")
        found[re.sub(r"\[(\d+)\]", r".\1", where)] = problem.message
    return found


@pytest.fixture
async def api(settings, staff_users) -> AsyncIterator[httpx.AsyncClient]:
    """The app without Temporal (configs are database work), as a Refresh Administrator."""
    app = create_app(settings, None, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        client.headers.update(await bearer(client, "admin"))
        yield client


@pytest.mark.parametrize("case", list(INVALID))
async def test_loader_and_editor_refuse_the_same_config_with_the_same_words(
    case, api, tmp_path, db_url
):
    make, field = INVALID[case]
    config = make()
    from_file = loader_problems(tmp_path, db_url, config)
    r = await api.post("/api/configs", json=config)
    assert r.status_code == 422, r.text
    from_editor = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert field in from_editor, from_editor
    assert from_editor == from_file
    # The edit route says the same, under `config.`; nothing was written by either.
    saved = fresh()
    assert (await api.post("/api/configs", json=saved)).status_code == 201
    r = await api.put(
        f"/api/configs/{saved['id']}",
        json={"edited_version": 1, "config": make() | {"id": saved["id"]}},
    )
    assert r.status_code == 422
    assert {e["field"].removeprefix("config.") for e in r.json()["errors"]} == set(from_file)
    assert (await api.get(f"/api/configs/{config['id']}")).status_code == 404
    history = (await api.get(f"/api/configs/{saved['id']}/history")).json()
    assert [v["version"] for v in history] == [1]


def test_loader_refuses_weekend_slot_preferences_as_the_preference_editor_does(tmp_path, db_url):
    path = tmp_path / "teams.yaml"
    path.write_text(
        "support_teams:\n"
        "  - id: nit-weekend\n"
        "    name: Weekend team\n"
        '    slack_channel: "#nit-weekend"\n'
        "    default_location: Depot\n"
        "    slot_preferences:\n"
        '      - {weekday: sat, start: "09:00", length_minutes: 60, capacity: 2, location: D}\n'
        '      - {weekday: mon, start: "19:00", length_minutes: 60, capacity: 2, location: D}\n'
    )
    with session_factory(make_engine(db_url))() as db, pytest.raises(ReferenceDataError) as exc:
        parse_reference_file(path, db)
    messages = {p.path: p.message for p in exc.value.problems}
    assert messages == {
        "support_teams[0].slot_preferences[0].weekday": (
            "sat is never a business day: no slot would ever be created"
        ),
        "support_teams[0].slot_preferences[1].start": (
            "19:00-20:00 is outside business hours 05:00-18:00"
        ),
    }


async def test_create_edit_and_history(api):
    config = fresh()
    r = await api.post("/api/configs", json=config)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["created"]
    # Creating it again is refused: edits go through PUT with the version edited.
    r = await api.post("/api/configs", json=config)
    assert r.status_code == 409 and r.json()["field"] == "id"

    edited = config | {
        "approvers": [{"uniqname": "appr2", "name": "Bo Approver", "email": "appr2@example.edu"}],
        "software_catalog": ["MATLAB", "SPSS"],
    }
    r = await api.post(
        f"/api/configs/{config['id']}/impact", json={"edited_version": 1, "config": edited}
    )
    assert r.status_code == 200, r.text
    assert [c["field"] for c in r.json()["changes"]] == ["approvers", "software_catalog"]
    assert [i["tickets"] for i in r.json()["impact"]] == [0, 0]  # no ticket runs under it
    r = await api.put(f"/api/configs/{config['id']}", json={"edited_version": 1, "config": edited})
    assert r.status_code == 200 and r.json()["version"] == 2
    # A save over a newer version than the one edited is refused, naming both.
    r = await api.put(f"/api/configs/{config['id']}", json={"edited_version": 1, "config": config})
    assert r.status_code == 409 and "version 2" in r.json()["detail"]
    # Saving what is there records nothing.
    r = await api.put(f"/api/configs/{config['id']}", json={"edited_version": 2, "config": edited})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["changes"] == []

    history = (await api.get(f"/api/configs/{config['id']}/history")).json()
    assert [(v["version"], v["saved_by"], v["source"]) for v in history] == [
        (2, "admin", "web editor"),
        (1, "admin", "web editor"),
    ]
    [approvers, software] = history[0]["changes"]
    assert approvers["before"][0]["uniqname"] == "appr1"
    assert approvers["after"][0]["uniqname"] == "appr2"
    assert (software["before"], software["after"]) == (["MATLAB"], ["MATLAB", "SPSS"])
    assert (await api.get(f"/api/configs/{config['id']}")).json()["version"] == 2


async def test_edit_refusals(api):
    config = fresh()
    assert (await api.post("/api/configs", json=config)).status_code == 201
    url = f"/api/configs/{config['id']}"
    r = await api.put("/api/configs/no-such-config", json={"edited_version": 0, "config": config})
    assert r.status_code == 404
    r = await api.put(url, json={"config": config})
    assert r.status_code == 422 and r.json()["field"] == "edited_version"
    r = await api.put(url, json={"edited_version": 1, "config": config, "extra": 1})
    assert r.status_code == 422 and r.json()["field"] == "extra"
    r = await api.put(url, json={"edited_version": 1, "config": config | {"colour": "red"}})
    assert r.status_code == 422 and r.json()["field"] == "config.colour"
    r = await api.post("/api/configs", json=["not", "an", "object"])
    assert r.status_code == 422


async def test_the_loader_records_its_changes_too(tmp_path, db_url, api):
    config = fresh()
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump({"refresh_configs": [config]}))
    sessions = session_factory(make_engine(db_url))
    for _ in range(2):  # the second load changes nothing and records nothing
        with sessions.begin() as db:
            load_reference_file(path, db)
    path.write_text(yaml.safe_dump({"refresh_configs": [config | {"name": "Renamed"}]}))
    with sessions.begin() as db:
        load_reference_file(path, db)
    history = (await api.get(f"/api/configs/{config['id']}/history")).json()
    assert [(v["version"], v["source"]) for v in history] == [
        (2, "deskflow load"),
        (1, "deskflow load"),
    ]
    assert history[0]["changes"] == [{"field": "name", "before": GOOD["name"], "after": "Renamed"}]


async def test_refresh_managers_read_configs_and_cannot_edit_them(api, settings, staff_users):
    config = fresh()
    assert (await api.post("/api/configs", json=config)).status_code == 201
    app = create_app(settings, None, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as manager:
        manager.headers.update(await bearer(manager, "manager"))
        assert (await manager.get(f"/api/configs/{config['id']}")).status_code == 200
        assert (await manager.get(f"/api/configs/{config['id']}/history")).status_code == 200
        r = await manager.put(
            f"/api/configs/{config['id']}", json={"edited_version": 1, "config": config}
        )
        assert r.status_code == 403
        assert (await manager.post("/api/configs", json=fresh())).status_code == 403
