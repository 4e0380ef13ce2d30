"""Connecting to Temporal the one way every deskflow process does it."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from domain.settings import Settings, get_settings
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


async def connect(settings: Settings | None = None) -> Client:
    settings = settings or get_settings()
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        api_key=api_key,
        tls=settings.temporal_tls or bool(api_key),
    )
