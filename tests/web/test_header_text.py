"""The API refuses a CR/LF in a field bound for an email header (issue 8.17)."""

from __future__ import annotations

from tests.domain.test_text_rules import INJECTED
from tests.web.helpers import bearer


async def test_the_api_refuses_it_before_anything_is_sent(web):
    auth = await bearer(web, "admin")
    r = await web.post(
        "/api/tickets/any.TICKET/exchange_replacement",
        json={"replacement": {"serial": INJECTED, "platform": "mac", "model": "MacBook"}},
        headers=auth,
    )
    assert r.status_code == 422 and r.json()["field"] == "replacement.serial"
    assert "single line" in r.json()["detail"]
