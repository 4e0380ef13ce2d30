"""Signing in and out of the API, and who you are."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from web import schemas
from web.auth import sign_in, sign_out
from web.deps import AnyStaff, App
from web.responses import Me, SessionToken

router = APIRouter(prefix="/api", tags=["session"])


@router.post(
    "/session",
    summary="Sign in: get a bearer token (also set as the session cookie)",
    responses={429: {"description": "too many failed sign-ins; wait `Retry-After` seconds"}},
)
async def create_session(
    body: schemas.Login, request: Request, response: Response, app: App
) -> SessionToken:
    staff, token = await sign_in(app, request, response, body.username, body.password)
    return SessionToken(
        token=token,
        expires_in=app.config.session_max_age,
        csrf_token=staff.csrf,
        username=staff.username,
        roles=sorted(staff.roles),
    )


@router.delete(
    "/session",
    status_code=204,
    summary="Sign out: the token stops working at once and the cookie is cleared",
)
async def end_session(response: Response, staff: AnyStaff, app: App) -> Response:
    await sign_out(app, staff, response)
    response.status_code = 204
    return response


@router.get("/me", summary="Who you are signed in as: name, roles, configs you approve")
async def me(staff: AnyStaff) -> Me:
    return Me(
        username=staff.username,
        name=staff.name,
        email=staff.email,
        roles=sorted(staff.roles),
        approver_of=sorted(staff.approver_configs),
    )
