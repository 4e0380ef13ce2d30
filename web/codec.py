"""The remote codec endpoint the Temporal Web UI calls to show decrypted payloads.

Protocol (Temporal "remote data encoder"): `POST /codec/decode` and `POST /codec/encode`
with `{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}` (the JSON
form of `temporal.api.common.v1.Payloads`), answered in the same shape. The UI sends the
namespace in `X-Namespace`.

Who may call it: a staff member (session cookie, or `Authorization: Bearer <token>` from
`POST /api/session`), any role. Only under `deskflow dev` (DESKFLOW_DEV) callers on
127.0.0.1/::1 need nothing, so the local Web UI on :8233 decodes without sign-in; never
otherwise, since behind a same-host reverse proxy every caller is loopback. CORS answers only
`DESKFLOW_TEMPORAL_UI_URL`'s origin (on loopback: as localhost, 127.0.0.1 and [::1]).
In production run the UI with `codec.passAccessToken` only if its tokens are deskflow tokens,
or put the UI and the web app behind the same sign-in so the session cookie is sent
(`codec.includeCredentials: true`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from operations.errors import FieldError
from operations.payload_codec import EncryptionCodec
from web.config import is_loopback
from web.deps import SignInRequired, WebApp, current_staff, web_app

router = APIRouter(prefix="/codec", tags=["codec"])
APP = Depends(web_app)
ALLOWED_HEADERS = "content-type, authorization, x-namespace, x-csrf-token"


async def codec_caller(request: Request, app: WebApp = APP) -> None:
    staff = await current_staff(request)
    if staff is not None:
        return
    if app.config.codec_allow_loopback and is_loopback(
        request.client.host if request.client else None
    ):
        return
    raise SignInRequired()


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError) as e:
        raise FieldError(400, f'expected {{"payloads": [...]}} as JSON: {e}', "payloads") from None


def _answer(payloads: list) -> JSONResponse:
    return JSONResponse(json_format.MessageToDict(Payloads(payloads=payloads)))


def _codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


@router.post("/decode", dependencies=[Depends(codec_caller)], summary="Decrypt payloads (Web UI)")
async def decode(request: Request) -> JSONResponse:
    payloads = await _payloads(request)
    try:
        decoded = await _codec(request).decode(list(payloads.payloads))
    except Exception as e:  # wrong key id, damaged ciphertext
        raise FieldError(400, f"cannot decode: {e}", "payloads") from None
    return _answer(decoded)


@router.post("/encode", dependencies=[Depends(codec_caller)], summary="Encrypt payloads (Web UI)")
async def encode(request: Request) -> JSONResponse:
    payloads = await _payloads(request)
    return _answer(await _codec(request).encode(list(payloads.payloads)))


class CodecCors:
    """CORS for /codec/* only, and only for the Temporal Web UI's origins (pure ASGI)."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = frozenset(o.encode() for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/codec/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"")
        allowed = origin in self.origins
        cors = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            status = 204 if allowed else 403
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": cors if allowed else [],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if allowed and message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        await self.app(scope, receive, send_with_cors)
