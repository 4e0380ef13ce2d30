"""Staff sign-in and sign-out: the login form, the session cookie, the SSO seam.

Sign-in opens a server-side session (`store.staff_sessions`) and is throttled per account
and per client address (`web.login_throttle`); sign-out revokes the session, so the token
(cookie or bearer) is refused from the next request on.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from operations.errors import FieldError
from store.reference import verify_password
from store.staff_sessions import open_session, revoke
from web import queries
from web.deps import WebApp, any_staff, current_staff, web_app
from web.security import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Staff, oidc_login, same

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
STAFF = Depends(any_staff)

# A fixed hash for unknown usernames, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = (
    "scrypt$16384$8$1$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000"
)


def _check(app: WebApp, username: str, password: str):
    with app.reads() as db:
        user = queries.staff_user(db, username)
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
        return user if ok and user is not None and not user.disabled else None


def _too_many(wait: int) -> FieldError:
    return FieldError(
        429,
        f"too many failed sign-ins; try again in {wait} s",
        "password",
        headers={"Retry-After": str(wait)},
    )


async def sign_in(
    app: WebApp, request: Request, response: Response, username: str, password: str
) -> tuple[Staff, str]:
    """Check the password (throttled), open a server-side session, set the cookie."""
    address = request.client.host if request.client else None
    username = username.strip()
    throttle = app.login_throttle
    wait = throttle.wait_seconds(username, address)
    if wait:
        raise _too_many(wait)
    user = await asyncio.to_thread(_check, app, username, password)
    if user is None:
        throttle.failed(username, address)
        raise FieldError(401, "wrong username or password", "password")
    throttle.succeeded(username)
    session_id = await app.write(
        open_session, user.username, app.now(), timedelta(seconds=app.config.session_max_age)
    )
    token, csrf = app.tokens.new_session(session_id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=app.config.session_max_age,
        secure=app.config.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    staff = Staff(
        user.username,
        user.name,
        user.email,
        frozenset(user.roles or []),
        csrf,
        session_id=session_id,
    )
    return staff, token


async def sign_out(app: WebApp, staff: Staff, response: Response) -> None:
    """Revoke the session on the server (its token stops working at once), drop the cookie."""
    await app.write(revoke, staff.session_id, app.now())
    response.delete_cookie(SESSION_COOKIE, secure=True, httponly=True, samesite="lax")


def safe_next(target: str | None) -> str:
    """Only local paths: a login link cannot send someone to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _login_page(
    request: Request, app: WebApp, next_url: str, error: str | None = None, status: int = 200
):
    token = secrets.token_urlsafe(24)
    page = app.templates.TemplateResponse(
        request,
        "login.html",
        {
            "next": next_url,
            "error": error,
            "login_csrf": token,
            "staff": None,
            "oidc": app.config.oidc_enabled,
        },
        status_code=status,
    )
    page.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        secure=app.config.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/", app: WebApp = APP):
    if await current_staff(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, app, safe_next(next))


@router.post("/login")
async def login(request: Request, app: WebApp = APP):
    form = await request.form()
    next_url = safe_next(str(form.get("next", "/")))
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, app, next_url, "The form expired; please sign in again.", 403)
    response = RedirectResponse(next_url, status_code=303)
    try:
        await sign_in(
            app, request, response, str(form.get("username", "")), str(form.get("password", ""))
        )
    except FieldError as e:
        page = _login_page(request, app, next_url, e.message.capitalize() + ".", e.status)
        page.headers.update(e.headers)
        return page
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(staff: Staff = STAFF, app: WebApp = APP):
    response = RedirectResponse("/login", status_code=303)
    await sign_out(app, staff, response)
    return response


@router.get("/login/oidc")
async def login_oidc(app: WebApp = APP):
    """Single sign-on seam: configured by DESKFLOW_WEB_OIDC_*, not implemented in this build."""
    if not app.config.oidc_enabled:
        raise FieldError(404, "single sign-on is not configured")
    try:
        oidc_login(app)
    except NotImplementedError as e:
        raise FieldError(501, str(e)) from None
