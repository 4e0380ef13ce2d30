"""The deskflow web app: customer wizard, approvals, staff console, JSON API, codec, ICS feeds.

`deskflow web` runs `uvicorn web.app:create_app --factory`. Tests call
`create_app(settings, client)` with their own settings and Temporal client.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from domain.settings import Settings, get_settings
from operations import telemetry
from operations.deployment_checks import prepare_process
from operations.errors import FieldError, from_request_errors
from operations.long_lived import freeze_startup_heap
from operations.payload_codec import EncryptionCodec
from web import (
    api,
    auth,
    codec,
    health,
    hooks,
    pages_after_hours,
    pages_approver,
    pages_customer,
    pages_outages,
    pages_provisioning,
    pages_sla,
    pages_staff,
)
from web.config import WebSettings
from web.deps import SignInRequired, WebApp, wants_json

STATIC = Path(__file__).resolve().parent / "static"
DOCS_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Customer links carry their token in the path: never send it to another site.
    (b"referrer-policy", b"no-referrer"),
]
CSP = (
    b"default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Swagger UI and ReDoc start themselves with an inline script and inline styles.
DOCS_CSP = (
    b"default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
    b"style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the headers above to every response (pure ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                docs = scope["path"] in ("/docs", "/redoc")
                headers.append((b"content-security-policy", DOCS_CSP if docs else CSP))
                if scope["path"].startswith(("/c/", "/api/c/")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@contextlib.asynccontextmanager
async def _served(app: FastAPI) -> AsyncIterator[None]:
    """Under uvicorn: the app is built, what it holds lives as long as the process."""
    freeze_startup_heap()
    yield


def create_app(
    settings: Settings | None = None,
    client: Client | None = None,
    *,
    web_settings: WebSettings | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    prepare_process(settings, "web app")
    web = WebApp(settings, client, web_settings)
    app = FastAPI(
        title="deskflow",
        summary="Device refresh campaigns on Temporal: wizard, approvals, staff console and API.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=_served,
    )
    app.state.web = web
    app.state.codec = EncryptionCodec.from_settings(settings, strict=True)  # 400, not a marker

    app.mount("/static/docs", StaticFiles(directory=DOCS_STATIC), name="docs-static")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The customer pages first: FastAPI tries routes in order, and each customer's Confirm
    # paid for matching the 60 routes before them (a quarter of the app's own time). The
    # Confirm's own route is a plain Starlette one, before all of FastAPI's
    # (`pages_customer.routes`).
    app.router.routes.extend(pages_customer.routes)
    for router in (
        pages_customer.router,
        auth.router,
        api.router,
        codec.router,
        pages_approver.router,
        pages_staff.router,
        health.router,
        pages_sla.router,
        hooks.router,
        pages_provisioning.router,
        pages_after_hours.router,
        pages_outages.router,
        pages_outages.api,
    ):
        app.include_router(router)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="deskflow API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="deskflow API",
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png",
            with_google_fonts=False,
        )

    install_error_handlers(app)
    app.add_middleware(codec.CodecCors, origins=web.config.temporal_ui_origins)
    app.add_middleware(SecurityHeaders)
    if telemetry.configure_tracing(settings, "deskflow-web"):
        FastAPIInstrumentor.instrument_app(app)
    return app


# ----- errors: JSON for the API, a page for people ---------------------------------------


def _error_page(request: Request, status: int, message: str) -> Response:
    web: WebApp = request.app.state.web
    headings = {
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        409: "Not possible now",
    }
    heading = headings.get(
        status, "Something went wrong" if status >= 500 else "Please check the request"
    )
    staff = request.scope.get("state", {}).get("staff")
    return web.templates.TemplateResponse(
        request,
        "error.html",
        {"staff": staff, "heading": heading, "message": message, "title": heading},
        status_code=status,
    )


def error_response(request: Request, err: FieldError) -> Response:
    if wants_json(request):
        response: Response = JSONResponse(err.to_json(), status_code=err.status)
    else:
        response = _error_page(request, err.status, err.message)
    response.headers.update(err.headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FieldError)
    async def field_error(request: Request, exc: FieldError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if wants_json(request):
            return JSONResponse(
                FieldError(
                    401, "sign in: POST /api/session, then send Authorization: Bearer"
                ).to_json(),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if request.method in ("GET", "HEAD"):
            return auth.login_redirect(request)
        return _error_page(request, 403, "Your session has ended; please sign in again.")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, from_request_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404:
            message = "There is no such page."
        err = FieldError(exc.status_code, message)
        response = error_response(request, err)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
