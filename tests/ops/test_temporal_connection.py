"""Every deskflow process reaches Temporal with the gRPC compression its settings ask for.

Off by default (the payload codec has already deflated and encrypted every payload); "gzip"
for a thin link. Both are checked against a real server, with a payload that goes through
the codec both ways.
"""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import GrpcCompression

from domain.settings import Settings
from operations.temporal_client import connect


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, GrpcCompression.NONE), ("none", GrpcCompression.NONE), ("gzip", GrpcCompression.GZIP)],
)
async def test_a_client_reaches_temporal_with_the_compression_set(env, settings, setting, expected):
    update = {"temporal_address": env.client.service_client.config.target_host}
    if setting:
        update["temporal_grpc_compression"] = setting
    client = await connect(settings.model_copy(update=update))
    assert client.service_client.config.grpc_compression == expected

    # Nobody serves this queue: the start and its input are all there is to read back.
    handle = await client.start_workflow(
        "NotServedHere", {"serial": "SN-1"}, id=f"grpc-{uuid4().hex[:8]}", task_queue="nobody"
    )
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    decoded = await client.data_converter.decode(started.input.payloads)
    assert decoded == [{"serial": "SN-1"}]
    await handle.terminate(reason="test over")


def test_an_unknown_compression_is_refused_by_name():
    with pytest.raises(ValidationError, match="temporal_grpc_compression"):
        Settings(_env_file=None, temporal_grpc_compression="brotli")
