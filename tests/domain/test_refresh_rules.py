"""Who followed a customer link: the ticket, as it is now, names them or refuses them."""

from __future__ import annotations

import pytest

from domain.refresh import Status
from domain.refresh_rules import LinkRefused, link_actor
from tests.domain.test_signal_rules import ticket

DELEGATE = {"name": "Del Egate", "email": "Del@Example.edu"}


@pytest.mark.parametrize(
    ("actor", "named"),
    [
        ("link:jdoe@example.edu", "customer:jdoe@example.edu"),
        ("link:JDoe@Example.EDU", "customer:jdoe@example.edu"),
        ("link:del@example.edu", "delegate:del@example.edu"),
        ("customer:someone@example.edu", "customer:someone@example.edu"),  # not a link
        ("admin", "admin"),
    ],
)
def test_a_link_is_named_by_the_address_the_ticket_holds(actor: str, named: str) -> None:
    assert link_actor(ticket(Status.pending_wizard, delegate=DELEGATE), actor) == named


def test_a_link_to_an_address_the_ticket_no_longer_names_is_refused() -> None:
    without_delegate = ticket(Status.pending_wizard)
    with pytest.raises(LinkRefused, match="not valid any more"):
        link_actor(without_delegate, "link:del@example.edu")
