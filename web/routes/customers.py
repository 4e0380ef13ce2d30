"""A customer's own ticket, opened with the token of their emailed link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from web import actions, schemas, wizard
from web.deps import App, LinkCustomer
from web.responses import CustomerView, SlotOut

router = APIRouter(prefix="/api/c/{token}", tags=["customers"])


@router.get("", summary="Your refresh: what we know and what happens next")
async def customer_ticket(who: LinkCustomer, app: App) -> CustomerView:
    return _view(wizard.customer_view(await actions.customer_state(app, who)))


@router.post("/wizard", summary="Send your answers to the Refresh Wizard")
async def submit_wizard(body: schemas.WizardBody, who: LinkCustomer, app: App) -> CustomerView:
    data = body.model_dump(mode="json", exclude_unset=True)
    await actions.submit_wizard(app, who, data)
    return _view(wizard.customer_view(await actions.customer_state(app, who)))


@router.get("/slots", summary="Appointment times you may pick now")
async def free_slots(who: LinkCustomer, app: App) -> list[SlotOut]:
    state = await actions.customer_state(app, who)
    return [SlotOut.of(s) for s in await actions.customer_slots(app, who, state)]


@router.post("/slot", summary="Pick or change your appointment time")
async def pick_slot(body: schemas.PickSlotBody, who: LinkCustomer, app: App) -> CustomerView:
    await actions.pick_slot(app, who, body.slot_id)
    return _view(wizard.customer_view(await actions.customer_state(app, who)))


def _view(data: dict[str, Any]) -> CustomerView:
    return CustomerView.model_validate(data)
