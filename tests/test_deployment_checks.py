"""Outside `deskflow dev` and the tests, the web app and the worker refuse public secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from domain.settings import Settings
from operations.deployment_checks import NotSafeToDeploy, problems
from web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DESKFLOW = str(Path(sys.executable).with_name("deskflow"))


def production_env(**extra: str) -> dict[str, str]:
    """An operator's shell: nothing of deskflow set, Temporal nowhere to be reached."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKFLOW_", "TEMPORAL_"))}
    return {**env, "PYTHONPATH": str(ROOT), "TEMPORAL_ADDRESS": "127.0.0.1:9", **extra}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def made_secrets(tmp_path: Path) -> dict[str, str]:
    done = run([DESKFLOW, "secrets"], production_env(), tmp_path)
    assert done.returncode == 0, done.stderr
    pairs = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert set(pairs) == {"DESKFLOW_SECRET_KEY", "DESKFLOW_CODEC_KEYS", "DESKFLOW_AT_REST_KEYS"}
    return pairs


def test_the_worker_refuses_to_start_with_the_public_default_secret(tmp_path):
    done = run([sys.executable, str(ROOT / "worker.py")], production_env(), tmp_path)
    assert done.returncode == 1
    assert "deskflow worker will not start" in done.stderr
    assert "DESKFLOW_SECRET_KEY is not set" in done.stderr
    assert "DESKFLOW_CODEC_KEYS is not set" in done.stderr
    assert "DESKFLOW_AT_REST_KEYS is not set" in done.stderr
    assert "deskflow secrets" in done.stderr and "Traceback" not in done.stderr


def test_the_web_app_refuses_to_start_under_uvicorn(tmp_path):
    web = [sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory", "--port", "0"]
    done = run(web, production_env(DESKFLOW_SECRET_KEY="short"), tmp_path)
    assert done.returncode == 1
    assert "deskflow web app will not start" in done.stderr
    assert "DESKFLOW_SECRET_KEY is 5 characters" in done.stderr
    assert "deskflow secrets" in done.stderr


def test_deskflow_secrets_makes_settings_both_processes_accept(tmp_path):
    made = made_secrets(tmp_path)
    settings = Settings(
        _env_file=None,
        dev=False,
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        secret_key=made["DESKFLOW_SECRET_KEY"],
        codec_keys=made["DESKFLOW_CODEC_KEYS"],
        at_rest_keys=made["DESKFLOW_AT_REST_KEYS"],
    )
    assert problems(settings) == []
    assert create_app(settings).state.web.settings is settings
    # Two runs never print the same secret.
    assert made_secrets(tmp_path) != made


@pytest.mark.parametrize(
    ("secret", "codec", "says"),
    [
        (None, None, "DESKFLOW_SECRET_KEY is not set"),
        ("x" * 40, None, "DESKFLOW_CODEC_KEYS is not set"),
        ("x" * 40, "k1:bm90LWEta2V5", "DESKFLOW_CODEC_KEYS is not valid"),
        ("x" * 40, "k1:" + "A" * 43 + "=", "DESKFLOW_AT_REST_KEYS is not set"),
    ],
)
def test_create_app_refuses_unsafe_settings(tmp_path, secret, codec, says):
    values = {"secret_key": secret, "codec_keys": codec}
    settings = Settings(
        _env_file=None,
        dev=False,
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        **{k: SecretStr(v) for k, v in values.items() if v is not None},
    )
    with pytest.raises(NotSafeToDeploy, match=says):
        create_app(settings)
    if codec is None:  # `deskflow dev` accepts them (a codec key is derived from the secret)
        create_app(settings.model_copy(update={"dev": True}))
