"""Pages in people's words: labels instead of codes, events as sentences, actions offered
only when they apply, and a customer told why their new computer is not the one they chose."""

from __future__ import annotations

from domain.labels import EVENT_LABELS, STATUS_LABELS, STYLE_LABELS, label
from domain.refresh import Status, Style
from tests.web.helpers import invited, link_token, login, to_customer_scheduling
from tests.workflows.helpers import add_slot, local, reach, replacement, start, ticket_input, until


def test_every_status_and_style_has_words():
    assert set(STATUS_LABELS) == {s.value for s in Status}
    assert set(STYLE_LABELS) == set(Style.__args__)
    assert label("on_prem", "style") == "On-site appointment"
    assert all("_" not in words for words in (*STATUS_LABELS.values(), *EVENT_LABELS.values()))


async def test_a_no_customer_ticket_shows_what_applies_in_words(web, env, worker, sim):
    inp = ticket_input("no_customer", "lab-loaners")
    handle = await start(env, worker, inp)
    await until(handle, lambda s: s.setup_done and s.status == Status.pending_ordering, "setup")
    await login(web, "admin")

    page = (await web.get(f"/tickets/{inp.ticket_id}")).text
    assert "No customer (shared or lab computer)" in page
    assert "Waiting for a replacement computer" in page and "pending_ordering" not in page
    assert "Wizard" not in page  # nobody walks a wizard for a lab computer
    # Nothing to exchange or track before a replacement is assigned.
    assert "Exchange replacement system" not in page and "Tracking number" not in page

    sim.tdx.add_asset("WORDS01")
    await handle.signal("assign_replacement", {"replacement": replacement("WORDS01")})
    await until(
        handle,
        lambda s: s.status == Status.delivery_scheduled and s.confirmed_version == 1,
        "generic day 1 told to TDX",
    )
    page = (await web.get(f"/tickets/{inp.ticket_id}")).text
    assert "no appointment: no customer to meet" in page
    assert "12:00 AM" not in page and "slot 0" not in page
    assert "Day 1 scheduled in TDX: for " in page  # the event, worded as a day
    assert "Exchange replacement system" in page
    assert "TDX refresh ticket created: <a href=" in page and "{&#39;" not in page
    listing = (await web.get("/tickets")).text
    assert '<option value="on_prem">On-site appointment</option>' in listing
    assert f'<td class="id"><a href="/tickets/{inp.ticket_id}">' in listing
    css = (await web.get("/static/app.css")).text
    assert "td.id, .id { white-space: nowrap; }" in css


async def test_the_customer_is_told_why_the_computer_differs_from_their_choice(
    web, env, worker, sim
):
    inp = ticket_input("on_prem", "lsa-onprem")
    [handle] = await invited(env, worker, inp)
    await handle.execute_update(
        "submit_wizard",
        {
            "location": "Angell Hall, 2001",
            "device": {"platform": "windows", "model": "Dell Precision 3590"},
        },
    )
    slot = add_slot(worker, "nit-central", local(2027, 3, 16, 9, 0))
    await to_customer_scheduling(
        env, worker, sim, handle, serial="WORDS02", slot_ids=[slot], approver="appr1"
    )
    await reach(handle, Status.pending_customer_scheduling)
    token = link_token(worker, inp.ticket_id, "jdoe@example.edu")
    page = (await web.get(f"/c/{token}")).text
    assert (
        "You chose a Dell Precision 3590; we are sending a Dell Latitude 7450 because it is "
        "the model your unit&#39;s order group had in stock" in page
    )
    assert "Waiting for the customer to pick a time" in page


async def test_instants_in_free_text_are_said_as_local_times_and_typed_dates_kept(web):
    app = web.app.state.web
    said = app.moments("slot 7 at 2027-04-20T13:00:00+00:00")
    assert said == "slot 7 at Tue Apr 20, 2027 9:00 AM"
    # Typed by a person: a date that does not exist, and a time with no offset (whose?).
    typed = "moved from 2027-02-30T10:00Z to 2027-03-01T10:00"
    assert app.moments(typed) == typed
