"""ServiceNow over OAuth 2.0: the adapter gets a bearer token from the stand-in's
`/oauth_token.do`, keeps it, and gets a new one when it expires or is refused (401)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from activities.itsm_servicenow import ServiceNowAdapter
from domain.itsm import ItsmError, NewNote, NewTicket


def adapter(sim, grant: str = "password", secret: str = "local-dev-secret") -> ServiceNowAdapter:
    return ServiceNowAdapter(
        sim.servicenow_base_url,
        "deskflow",
        SecretStr("local-dev-secret"),
        auth="oauth",
        client_id="deskflow",
        client_secret=SecretStr(secret),
        grant=grant,  # type: ignore[arg-type]
    )


def bearer_calls(sim) -> int:
    return sum(1 for c in sim.servicenow.calls if c[1].startswith("/servicenow/api/now/table"))


async def test_the_adapter_works_on_a_bearer_token_and_renews_it(sim):
    sn = sim.servicenow
    sn.reset()
    sn.revoke_tokens()
    port = adapter(sim)
    try:
        made = await port.create(NewTicket(key="oauth-1", summary="VPN coupé", priority="2"))
        await port.add_note(NewNote(key="oauth-1:n", ticket_id=made.id, text="Vu."))
        assert (await port.get(made.id)).summary == "VPN coupé"
        assert port.auth.logins == 1, "one token for every call"
        assert len(sn._tokens) == 1

        sn.revoke_tokens()  # the instance forgets it: the next call is refused, then renewed
        assert (await port.get(made.id)).id == made.id
        assert port.auth.logins == 2 and len(sn._tokens) == 1

        port.auth.clock = lambda: float("inf")  # past expires_in: renewed before calling
        calls = bearer_calls(sim)
        assert (await port.get(made.id)).id == made.id
        assert port.auth.logins == 3 and len(sn._tokens) == 2  # the old one still valid
        assert bearer_calls(sim) == calls + 1, "no 401 first: the token was renewed ahead"
    finally:
        await port.aclose()


async def test_client_credentials_and_refusals(sim):
    sn = sim.servicenow
    sn.reset()
    port = adapter(sim, grant="client_credentials")
    try:
        made = await port.create(NewTicket(key="oauth-cc", summary="Imprimante"))
        assert made.id.startswith("INC")
    finally:
        await port.aclose()
    wrong = adapter(sim, secret="not-the-secret")
    try:
        with pytest.raises(ItsmError) as refused:
            await wrong.get(made.id)
        assert refused.value.status == 401
    finally:
        await wrong.aclose()
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{sim.servicenow_base_url}oauth_token.do",
            data={"grant_type": "password", "client_id": "deskflow", "client_secret": "x"},
        )
        assert r.status_code == 401 and r.json()["error_description"] == "access_denied"
        r = await http.post(
            f"{sim.servicenow_base_url}oauth_token.do",
            data={
                "grant_type": "password",
                "client_id": "deskflow",
                "client_secret": "local-dev-secret",
                "username": "deskflow",
                "password": "local-dev-secret",
            },
        )
        token = r.json()
        assert token["token_type"] == "Bearer" and token["expires_in"] == 1799
        assert token["refresh_token"]
        table = f"{sim.servicenow_base_url}api/now/table/incident"
        ok = await http.get(table, headers={"Authorization": f"Bearer {token['access_token']}"})
        assert ok.status_code == 200
        bad = await http.get(table, headers={"Authorization": "Bearer forged"})
        assert bad.status_code == 401
