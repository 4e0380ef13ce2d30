"""The codec endpoint trusts loopback callers only under `deskflow dev`; CORS answers the
Temporal UI under each loopback name (issue 8.16)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from operations.deployment_checks import new_codec_key, new_secret_key
from web.app import create_app
from web.config import WebSettings


def production(settings, **changes):
    """Deployed settings: real secrets, not `deskflow dev`, the public URL on loopback (as
    behind a reverse proxy on the same host)."""
    return settings.model_copy(
        update={
            "dev": False,
            "public_url": "http://127.0.0.1:8000",
            "secret_key": SecretStr(new_secret_key()),
            "codec_keys": SecretStr(new_codec_key()),
            "at_rest_keys": SecretStr(new_codec_key("rest1")),
            **changes,
        }
    )


def client_for(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 41000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize("dev", [False, True])
async def test_loopback_callers_need_a_session_unless_deskflow_dev(env, settings, dev):
    app = create_app(
        production(settings, dev=dev), env.client, web_settings=WebSettings(_env_file=None)
    )
    async with client_for(app) as c:
        r = await c.post("/codec/decode", json={"payloads": []})
    assert r.status_code == (200 if dev else 401), r.text


async def test_cors_accepts_the_ui_at_localhost_and_127_0_0_1(env, settings):
    app = create_app(
        production(settings, temporal_ui_url="http://127.0.0.1:8233"),
        env.client,
        web_settings=WebSettings(_env_file=None),
    )
    preflight = {"Access-Control-Request-Method": "POST"}
    async with client_for(app) as c:
        for origin in ("http://localhost:8233", "http://127.0.0.1:8233"):
            r = await c.options("/codec/decode", headers={**preflight, "Origin": origin})
            assert r.status_code == 204 and r.headers["access-control-allow-origin"] == origin
        for origin in ("http://localhost:9999", "https://localhost:8233", "http://evil.example"):
            r = await c.options("/codec/decode", headers={**preflight, "Origin": origin})
            assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


async def test_cors_of_a_deployed_ui_is_that_origin_only(env, settings):
    app = create_app(
        production(settings, temporal_ui_url="https://temporal.example.edu/ui"),
        env.client,
        web_settings=WebSettings(_env_file=None),
    )
    preflight = {"Access-Control-Request-Method": "POST"}
    async with client_for(app) as c:
        r = await c.options(
            "/codec/decode", headers={**preflight, "Origin": "https://temporal.example.edu"}
        )
        assert r.status_code == 204
        r = await c.options("/codec/decode", headers={**preflight, "Origin": "http://localhost"})
        assert r.status_code == 403
