"""Connecting to Temporal the one way every deskflow process does it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import GrpcCompression, TLSConfig

from domain.settings import Settings, get_settings
from operations import telemetry
from operations.payload_codec import EncryptionCodec


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models on the wire, encrypted by the payload codec.

    Failures too: their message and stack trace (e.g. "SMTP refused invite to <address>")
    travel as an encrypted payload, and Temporal stores only "Encoded failure". The Web UI
    shows them through the codec endpoint; `decoded_failure_message` reads them here.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec.from_settings(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as the settings ask: mTLS with the given PEM files, plain TLS, or none."""
    if settings.temporal_tls_cert or settings.temporal_tls_key or settings.temporal_tls_server_ca:

        def read(path: str | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return TLSConfig(
            client_cert=read(settings.temporal_tls_cert),
            client_private_key=read(settings.temporal_tls_key),
            server_root_ca_cert=read(settings.temporal_tls_server_ca),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None


def grpc_compression(settings: Settings) -> GrpcCompression:
    """The gRPC compression the settings ask for (none by default: see the setting)."""
    if settings.temporal_grpc_compression == "gzip":
        return GrpcCompression.GZIP
    return GrpcCompression.NONE


async def connect(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Client:
    """A client for `settings`; its Runtime serves the process's metrics when configured."""
    settings = settings or get_settings()
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        api_key=api_key,
        tls=tls_config(settings),
        grpc_compression=grpc_compression(settings),
        interceptors=telemetry.client_interceptors(),
        runtime=runtime or telemetry.runtime(settings),
    )
