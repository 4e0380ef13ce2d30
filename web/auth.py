"""Staff sign-in and sign-out: the login form, the session cookie, the SSO seam."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from operations.errors import FieldError
from store.reference import verify_password
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
        return user if ok and user is not None else None


async def sign_in(
    app: WebApp, response: Response, username: str, password: str
) -> tuple[Staff, str]:
    user = await asyncio.to_thread(_check, app, username.strip(), password)
    if user is None:
        raise FieldError(401, "wrong username or password", "password")
    token, csrf = app.tokens.new_session(user.username)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=app.config.session_max_age,
        secure=app.config.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    staff = Staff(user.username, user.name, user.email, frozenset(user.roles or []), csrf)
    return staff, token


def sign_out(response: Response) -> None:
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
        await sign_in(app, response, str(form.get("username", "")), str(form.get("password", "")))
    except FieldError as e:
        return _login_page(request, app, next_url, e.message.capitalize() + ".", e.status)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(_: Staff = STAFF):
    response = RedirectResponse("/login", status_code=303)
    sign_out(response)
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
