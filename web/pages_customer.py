"""Customer pages behind the signed link `/c/{token}`: status, the wizard, the slot picker."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from domain.refresh import TicketState
from operations.errors import FieldError
from web import actions, wizard
from web.deps import Customer, WebApp, check_customer_csrf, customer, signed_customer, web_app
from web.security import WIZARD_COOKIE

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
CUSTOMER = Depends(customer)


def _page(app: WebApp, request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    return app.templates.TemplateResponse(request, name, {"staff": None, **ctx}, status_code=status)


@router.get("/c/{token}", response_class=HTMLResponse)
async def status_page(request: Request, who: Customer = CUSTOMER, app: WebApp = APP):
    s = await actions.customer_state(app, who)
    notice = (
        "Thank you: your answers are submitted."
        if request.query_params.get("done") == "wizard"
        else None
    )
    if request.query_params.get("done") == "slot" and s.slot:
        notice = (
            f"Your appointment is booked for {app.when(s.slot.start)}. "
            "A confirmation email is on its way."
        )
    return _page(
        app, request, "customer/status.html", s=s, who=who, step=wizard.next_step(s), notice=notice
    )


# ----- the wizard ------------------------------------------------------------------------------


def _values(step: str, s: TicketState, draft: dict[str, Any], form: Any = None) -> dict[str, Any]:
    """What each input shows: the form just sent, else the draft, else the ticket."""
    if form is not None:
        return {
            "location": form.get("location", ""),
            "shipping_address": {
                k: form.get(f"shipping_address.{k}", "") for k in wizard.ADDRESS_FIELDS
            },
            "device_choice": form.get("device_choice"),
            "device_inadequate": bool(form.get("device_inadequate")),
            "device_comment": form.get("device_comment", ""),
            "peripherals": form.getlist("peripherals"),
            "software": form.getlist("software"),
        }
    device = draft.get("device") or (s.device.model_dump() if s.device else None)
    if device and device.get("none_adequate"):
        choice = "none_adequate"
    elif device:
        choice = f"{device['platform']}|{device['model']}"
    else:
        choice = None
    address = draft.get("shipping_address") or (
        s.shipping_address.model_dump() if s.shipping_address else {"name": s.user.name}
    )
    peripherals = draft.get("peripherals")
    return {
        "location": draft.get("location", s.location or s.existing_system.location),
        "shipping_address": address,
        "device_choice": choice,
        "device_inadequate": bool(device and device.get("none_adequate")),
        "device_comment": (device or {}).get("comment", ""),
        "peripherals": peripherals if peripherals is not None else s.peripherals,
        "software": draft.get("software", s.software),
    }


async def _wizard_page(
    app: WebApp,
    request: Request,
    who: Customer,
    s: TicketState,
    step: str,
    draft: dict[str, Any],
    errors: dict[str, str] | None = None,
    form: Any = None,
    status: int = 200,
) -> Response:
    cfg = await actions.ticket_config(app, s.config_id, s)
    device = wizard.device_options(s, cfg)
    values = _values(step, s, draft, form)
    if values["device_choice"] is None and device.mode == "choose":
        values["device_choice"] = f"{device.proposed.platform}|{device.proposed.model}"
    return _page(
        app,
        request,
        "customer/wizard.html",
        status,
        s=s,
        who=who,
        cfg=cfg,
        step=step,
        steps=wizard.STEPS,
        titles=wizard.STEP_TITLES,
        device=device,
        peripherals=wizard.peripheral_choices(cfg),
        values=values,
        review=wizard.submission(s, draft)
        | {"device": draft.get("device"), "peripherals": draft.get("peripherals")},
        errors=errors or {},
        csrf=app.tokens.customer_csrf(who.token),
    )


def _check_step(step: str) -> None:
    if step not in wizard.STEPS:
        raise FieldError(404, f"no wizard page '{step}'")


@router.get("/c/{token}/wizard/{step}", response_class=HTMLResponse)
async def wizard_page(request: Request, step: str, who: Customer = CUSTOMER, app: WebApp = APP):
    _check_step(step)
    s = await actions.customer_state(app, who)
    if not wizard.wizard_open(s):
        return RedirectResponse(f"/c/{who.token}", status_code=303)
    draft = app.tokens.load_draft(request.cookies.get(WIZARD_COOKIE), who.ticket_id)
    page = await _wizard_page(app, request, who, s, step, draft)
    if step == "review":
        _keep_draft(page, app, who, {**draft, wizard.READY: wizard.submission(s, draft)})
    return page


def _keep_draft(response: Response, app: WebApp, who: Customer, draft: dict[str, Any]) -> None:
    response.set_cookie(
        WIZARD_COOKIE,
        app.tokens.dump_draft(who.ticket_id, draft),
        max_age=14 * 24 * 3600,
        path="/c/",
        secure=app.config.cookie_secure,
        httponly=True,
        samesite="lax",
    )


async def _confirm(
    app: WebApp, request: Request, who: Customer, draft: dict[str, Any], data: dict[str, Any]
) -> Response:
    """Send the answers; on a refusal, show the validator's sentence under its field."""
    try:
        await actions.submit_wizard(app, who, data)
    except FieldError as e:
        if e.status not in (409, 422):
            raise
        s = await actions.customer_state(app, who)
        if not wizard.wizard_open(s):
            return RedirectResponse(f"/c/{who.token}", status_code=303)
        page = wizard.step_of(e.field)
        errors = e.errors or {"_form": e.message}
        return await _wizard_page(app, request, who, s, page, draft, errors, status=e.status)
    done = RedirectResponse(f"/c/{who.token}?done=wizard", status_code=303)
    done.delete_cookie(WIZARD_COOKIE, path="/c/")
    return done


async def wizard_submit(request: Request) -> Response:
    """A wizard page's answers; on the review page, the Confirm.

    A plain Starlette route (`routes`, served before FastAPI's), which reads its path, the
    app and the signed link itself: the Confirm is the busiest request when an invite wave
    answers, and FastAPI's routing, parameter parsing and dependency solving were a third
    of the app's own time on it (142 against 90 µs a Confirm, measured in-process).
    """
    token, step = request.path_params["token"], request.path_params["step"]
    app: WebApp = request.app.state.web
    link = signed_customer(token, app)
    _check_step(step)
    await check_customer_csrf(request, link)
    draft = app.tokens.load_draft(request.cookies.get(WIZARD_COOKIE), link.ticket_id)
    ready = draft.pop(wizard.READY, None)
    if step == "review" and isinstance(ready, dict):
        # The Confirm: the workflow checks the link's address (see `signed_customer`).
        return await _confirm(app, request, link, draft, ready)
    who = await customer(token, app)
    s = await actions.customer_state(app, who)
    if not wizard.wizard_open(s):
        return RedirectResponse(f"/c/{who.token}", status_code=303)
    form = await request.form()
    if step == "review":
        return await _confirm(app, request, who, draft, wizard.submission(s, draft))
    cfg = await actions.ticket_config(app, s.config_id, s)
    try:
        answers = wizard.parse_step(step, s, cfg, form)
    except FieldError as e:
        return await _wizard_page(
            app, request, who, s, step, draft, e.errors, form, status=e.status
        )
    response = RedirectResponse(
        f"/c/{who.token}/wizard/{wizard.following_step(step)}", status_code=303
    )
    _keep_draft(response, app, who, {**draft, **answers})
    return response


routes = [Route("/c/{token}/wizard/{step}", wizard_submit, methods=["POST"])]


# ----- the slot picker -------------------------------------------------------------------------


async def _slots_page(app, request, who, s, errors=None, status=200) -> Response:
    slots = await actions.customer_slots(app, who, s)
    return _page(
        app,
        request,
        "customer/slots.html",
        status,
        s=s,
        who=who,
        slots=slots,
        step=wizard.next_step(s),
        errors=errors or {},
        csrf=app.tokens.customer_csrf(who.token),
    )


@router.get("/c/{token}/slots", response_class=HTMLResponse)
async def slots_page(request: Request, who: Customer = CUSTOMER, app: WebApp = APP):
    s = await actions.customer_state(app, who)
    if s.style not in wizard.SCHEDULING_STYLES or s.status not in actions.SLOT_STATUSES:
        return RedirectResponse(f"/c/{who.token}", status_code=303)
    return await _slots_page(app, request, who, s)


@router.post("/c/{token}/slots")
async def slots_pick(request: Request, who: Customer = CUSTOMER, app: WebApp = APP):
    await check_customer_csrf(request, who)
    form = await request.form()
    try:
        await actions.pick_slot(app, who, form.get("slot_id"))
    except FieldError as e:
        if e.status not in (409, 422):
            raise
        s = await actions.customer_state(app, who)
        return await _slots_page(app, request, who, s, e.errors or {"slot_id": e.message}, e.status)
    return RedirectResponse(f"/c/{who.token}?done=slot", status_code=303)
