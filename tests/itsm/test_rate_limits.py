"""The ITSMs' rate limits: the stand-ins refuse as the products do (429, Retry-After and, for
ServiceNow, the X-RateLimit-* headers), and a burst of tickets past the limit still ends with
every ticket routed, timed and written back once: no second note, no second email."""

from __future__ import annotations

import re
import time
from collections import Counter

import httpx
import pytest

from domain.servicenow_json import RESPOND_BY
from sim.itsm_common import RateLimit
from tests.itsm.helpers import local, mail_settles, move_to, until

TECH = "ana.tech@example.org"
MARKER = re.compile(r"\[deskflow:[^\]]+\]")


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_halo_counts_a_rolling_window_and_servicenow_fixed_hours():
    t = FakeTime(7200.0)
    rolling = RateLimit(3, 300, rolling=True, clock=t)
    answers = []
    for _ in range(4):  # one call a second
        answers.append(rolling.take())
        t.now += 1
    assert [a.allowed for a in answers] == [True, True, True, False]
    assert answers[3].retry_after == 297  # when the first call leaves the window
    t.now = 7200 + 300
    assert rolling.take().allowed  # the first call has left: one more
    assert not rolling.take().allowed  # the second (7201) has not
    fixed = RateLimit(2, 3600, rolling=False, clock=FakeTime(7200.0 + 1800))
    first = fixed.take("deskflow")
    assert first.remaining == 1 and first.reset_at == 3 * 3600  # resets on the hour
    assert fixed.take("deskflow").allowed and not fixed.take("deskflow").allowed
    assert fixed.take("someone.else").allowed  # each user has their own count
    assert RateLimit(rolling=True).take() is None  # no limit set


async def test_the_stand_ins_answer_429_as_the_products_do(sim):
    sim.halo.reset()
    sim.servicenow.reset()
    sim.servicenow.limit_rate(2, 3600)
    sim.halo.limit_rate(1, 300)
    async with httpx.AsyncClient() as http:
        sn = f"{sim.servicenow_base_url}api/now/table/incident"
        answers = [await http.get(sn, auth=("deskflow", "local-dev-secret")) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        ok, limited = answers[0], answers[2]
        assert ok.headers["X-RateLimit-Limit"] == "2"
        assert ok.headers["X-RateLimit-Remaining"] == "1"
        reset = int(ok.headers["X-RateLimit-Reset"])
        assert reset % 3600 == 0 and 0 < reset - time.time() <= 3600
        assert ok.headers["X-RateLimit-Rule"]
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert 0 < int(limited.headers["Retry-After"]) <= 3600
        assert limited.json()["error"]["message"] == "Rate limit exceeded"

        token = await http.post(
            f"{sim.halo_base_url}auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "deskflow",
                "client_secret": "local-dev-secret",
                "scope": "all",
            },
        )
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        url = f"{sim.halo_base_url}api/Tickets"
        answers = [await http.get(url, headers=bearer) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 429]
        assert 0 < int(answers[1].headers["Retry-After"]) <= 300
        assert "per rolling 5 minute window" in answers[1].json()["error"]
    sim.halo.reset()
    sim.servicenow.reset()


def halo_notes(sim, tid: int) -> Counter[str]:
    return Counter(
        m for a in sim.halo.actions(tid) for m in MARKER.findall(str(a.get("note_html", "")))
    )


def servicenow_notes(sim, sys_id: str) -> Counter[str]:
    return Counter(
        m
        for j in sim.servicenow.query("sys_journal_field", f"element_id={sys_id}")
        for m in MARKER.findall(j["value"])
    )


@pytest.mark.parametrize("itsm", ["halo", "servicenow"])
async def test_a_burst_past_the_rate_limit_completes_without_duplicate_writes(
    env, hooks, sim, worker, itsm
):
    await move_to(env, sim, local(2026, 12, 7, 9))
    n = 5
    if itsm == "halo":
        sim.halo.limit_rate(12, 2.0)
        logged = [sim.halo.log_ticket(f"Poste {i} ne démarre pas") for i in range(n)]
        ids = [str(t["id"]) for t in logged]
        user = "camille.martin@example.org"

        async def done():
            saved = [sim.halo.store.get("ticket", tid) for tid in ids]
            timed = all(t["team"] == "Support" and t["respondbydate"] for t in saved)
            return timed and all(notes())

        def notes() -> list[Counter[str]]:
            return [halo_notes(sim, int(tid)) for tid in ids]

        refused = lambda: sim.halo.rate.refused  # noqa: E731
    else:
        sim.servicenow.limit_rate(20, 2.0)
        logged = [sim.servicenow.log_incident(f"Poste {i} ne démarre pas") for i in range(n)]
        ids = [r["number"] for r in logged]
        user = "jordan.lee@example.edu"

        async def done():
            saved = [sim.servicenow.store.get("incident", r["sys_id"]) for r in logged]
            timed = all(r["assignment_group"] and r.get(RESPOND_BY) for r in saved)
            return timed and all(notes())

        def notes() -> list[Counter[str]]:
            return [servicenow_notes(sim, r["sys_id"]) for r in logged]

        refused = lambda: sim.servicenow.throttled  # noqa: E731

    await until(done, bool, f"{n} tickets routed, noted, timed past the limit", timeout=90)
    assert refused() > 0, "the burst did not reach the limit: the test proves nothing"
    for tid, found in zip(ids, notes(), strict=True):
        assert found and set(found.values()) == {1}, f"{tid}: a note written twice: {found}"
    for tid in ids:
        expected = Counter({("ticket_created", user): 1, ("team_notice", TECH): 1})
        await mail_settles(sim, f"{itsm}-{tid}", expected, f"{tid}: each email once")
