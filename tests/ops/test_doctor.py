"""`deskflow doctor` names what is wrong with a deployment's settings, in words."""

from __future__ import annotations

import os
import subprocess
import sys

from domain.settings import Settings
from operations.deployment_checks import new_codec_key, new_secret_key
from starter.doctor import diagnose
from tests.ops.conftest import free_port


def _deployment(settings: Settings, env, **changes) -> Settings:
    """The test settings as a production deployment: real secrets, not development."""
    return Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "dev": False,
            "secret_key": new_secret_key(),
            "codec_keys": new_codec_key("k1"),
            "at_rest_keys": new_codec_key("rest1"),
            "temporal_address": env.client.service_client.config.target_host,
            "public_url": "https://deskflow.example.edu",
            **changes,
        },
    )


def _problems(findings) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in findings:
        if f.level == "problem":
            found.setdefault(f.topic, []).append(f.message)
    return found


async def test_a_healthy_deployment_has_no_problem(env, settings, sim):
    findings = await diagnose(_deployment(settings, env))
    assert _problems(findings) == {}
    assert {f.topic for f in findings if f.level == "ok"} >= {
        "secrets",
        "temporal",
        "database",
        "TDX",
        "Slack",
        "SMTP",
    }


async def test_wrong_temporal_address(env, settings, sim):
    port = free_port()
    findings = await diagnose(_deployment(settings, env, temporal_address=f"127.0.0.1:{port}"))
    [message] = _problems(findings)["temporal"]
    assert f"127.0.0.1:{port}" in message and "connection refused" in message


async def test_missing_secret(env, settings, sim):
    findings = await diagnose(
        _deployment(settings, env, secret_key=Settings.model_fields["secret_key"].default)
    )
    [message] = _problems(findings)["secrets"]
    assert "DESKFLOW_SECRET_KEY is not set" in message


async def test_database_behind_on_migrations(env, settings, sim, behind_db):
    findings = await diagnose(_deployment(settings, env, database_url=behind_db))
    [message] = _problems(findings)["database"]
    assert "behind" in message and "run `deskflow migrate`" in message


async def test_unreachable_tdx_and_missing_tls_file(env, settings, sim, tmp_path):
    findings = await diagnose(
        _deployment(
            settings,
            env,
            tdx_base_url=f"http://127.0.0.1:{free_port()}/TDWebApi/",
            temporal_tls_cert=str(tmp_path / "client.pem"),
        )
    )
    problems = _problems(findings)
    assert "cannot reach TDX" in problems["TDX"][0]
    assert any("client.pem, which is not a file" in m for m in problems["temporal"])


def test_command_exits_1_and_says_why(tmp_path, behind_db):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKFLOW_", "TEMPORAL_"))}
    env |= {
        "DESKFLOW_DATABASE_URL": behind_db,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "typer", "starter.cli", "run", "doctor"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, text
    assert "DESKFLOW_SECRET_KEY is not set" in text
    assert "cannot connect to Temporal" in text
    assert "run `deskflow migrate`" in text
