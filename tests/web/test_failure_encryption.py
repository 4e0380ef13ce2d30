"""Failure messages and stack traces reach Temporal encrypted (issue 8.15).

The raw history, as the Temporal server stores it and the Web UI shows it without the codec,
holds no address; the codec endpoint decrypts it for staff; the staff console still reads it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from operations.tickets import pending_activities
from web.app import create_app
from web.config import WebSettings

SECRET_MESSAGE = "SMTP refused invite to private.person@example.edu: 550 no such user"


@activity.defn(name="leaky_send")
async def leaky_send(retry: bool) -> None:
    raise ApplicationError(SECRET_MESSAGE, non_retryable=not retry)


@workflow.defn(name="LeakyFailure")
class LeakyFailure:
    @workflow.run
    async def run(self, retry: bool) -> None:
        try:
            await workflow.execute_activity(
                leaky_send,
                retry,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(hours=1)),
            )
        except ActivityError as e:
            # Workflow code still reads the message as it was written.
            raise ApplicationError(f"gave up: {e.cause.message}") from e


@pytest.fixture
async def leaky_worker(env):
    queue = f"leaky-{uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[LeakyFailure],
        activities=[leaky_send],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield queue


async def test_failures_are_encrypted_in_the_history_and_decoded_by_the_codec(
    env, settings, leaky_worker
):
    handle = await env.client.start_workflow(
        LeakyFailure.run, False, id=f"leaky-{uuid4().hex[:8]}", task_queue=leaky_worker
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    # A client holding the keys reads the messages back.
    assert failed.value.cause.message == f"gave up: {SECRET_MESSAGE}"

    history = await handle.fetch_history()
    raw = history.to_json()
    assert "private.person" not in raw and "smtp" not in raw.lower()
    [activity_failed] = [
        e for e in history.events if e.HasField("activity_task_failed_event_attributes")
    ]
    failure = activity_failed.activity_task_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and failure.stack_trace == ""

    # The Web UI's codec endpoint (here as a loopback caller under `deskflow dev`) decrypts it.
    app = create_app(settings, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    body = json_format.MessageToDict(Payloads(payloads=[failure.encoded_attributes]))
    async with httpx.AsyncClient(transport=transport, base_url="https://deskflow.test") as web:
        r = await web.post("/codec/decode", json=body)
    assert r.status_code == 200, r.text
    [decoded] = r.json()["payloads"]
    attributes = json.loads(base64.b64decode(decoded["data"]))
    assert attributes["message"] == SECRET_MESSAGE
    assert "leaky_send" in attributes["stack_trace"]


async def test_staff_console_shows_the_decrypted_last_failure(env, leaky_worker):
    ticket_id = f"leaky.{uuid4().hex[:8]}"
    await env.client.start_workflow(
        LeakyFailure.run, True, id=f"refresh-{ticket_id}", task_queue=leaky_worker
    )
    for _ in range(200):
        found = await pending_activities(env.client, ticket_id)
        if found and found[0].last_failure:
            break
        await asyncio.sleep(0.05)
    assert found[0].activity == "leaky_send"
    assert found[0].last_failure == SECRET_MESSAGE
