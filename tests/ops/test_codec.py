"""The KMS payload codec: round trips, key rotation, tampering, plaintext and KMS outages."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client import REGISTRY
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from portal.codec import (
    ENCODING,
    METADATA_KEY_ID,
    METADATA_WRAPPED_KEY,
    EncryptionCodec,
    KmsKeyring,
    PayloadDecryptionError,
    build_codec,
    data_key_id,
)
from portal.errors import DependencyUnavailableError
from portal.settings import Settings, load_settings
from portal.temporal import build_data_converter, connect
from tests.harness.servers import ManagedProcess, free_port


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


@pytest.fixture
def kms_settings(moto_server: ManagedProcess) -> Settings:
    return load_settings(
        environment="test",
        aws_endpoint_url=moto_server.url,  # type: ignore[attr-defined]
        payload_kms_key_alias="alias/portal-temporal-payloads-codec-tests",
    )


async def test_round_trip_hides_plaintext(kms_settings: Settings):
    codec = build_codec(kms_settings)
    original = json_payload("+14155550123")

    [encrypted] = await codec.encode([original])
    [decrypted] = await codec.decode([encrypted])

    assert encrypted.metadata["encoding"] == ENCODING
    assert b"+14155550123" not in encrypted.SerializeToString()
    assert b"json/plain" not in encrypted.SerializeToString()
    assert decrypted == original


async def test_rotation_keeps_old_payloads_readable(kms_settings: Settings):
    settings = kms_settings.model_copy(update={"payload_data_key_max_uses": 2})
    codec = build_codec(settings)

    encrypted = await codec.encode([json_payload("first")])
    encrypted += await codec.encode([json_payload("second")])
    encrypted += await codec.encode([json_payload("third")])
    key_ids = [payload.metadata[METADATA_KEY_ID] for payload in encrypted]

    assert key_ids[0] == key_ids[1]
    assert key_ids[2] != key_ids[0]
    # A new process has no key cached: it unwraps each data key through KMS.
    fresh = build_codec(settings)
    decoded = await fresh.decode(encrypted)
    assert [payload.data for payload in decoded] == [b'"first"', b'"second"', b'"third"']


async def test_rotation_by_age(kms_settings: Settings):
    codec = build_codec(kms_settings)
    [before] = await codec.encode([json_payload("before")])
    current = codec.keyring.cached_current_key()
    assert current is not None
    current.created = time.monotonic() - kms_settings.payload_data_key_max_age_seconds - 1

    [after] = await codec.encode([json_payload("after")])

    assert after.metadata[METADATA_KEY_ID] != before.metadata[METADATA_KEY_ID]


async def test_forgotten_keys_unwrap_again(kms_settings: Settings):
    codec = build_codec(kms_settings)
    encrypted = await codec.encode([json_payload("kept")])
    codec.keyring.forget_cached_keys()

    [decoded] = await codec.decode(encrypted)

    assert decoded.data == b'"kept"'


async def test_plaintext_payload_passes_through(kms_settings: Settings):
    codec = build_codec(kms_settings)
    plain = json_payload("written before encryption")

    assert await codec.decode([plain]) == [plain]


async def test_tampered_ciphertext_is_rejected(kms_settings: Settings):
    codec = build_codec(kms_settings)
    [encrypted] = await codec.encode([json_payload("secret")])
    tampered = Payload()
    tampered.CopyFrom(encrypted)
    tampered.data = encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1])

    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([tampered])


async def test_swapped_wrapped_key_is_rejected(kms_settings: Settings):
    codec = build_codec(kms_settings.model_copy(update={"payload_data_key_max_uses": 1}))
    [first] = await codec.encode([json_payload("one")])
    [second] = await codec.encode([json_payload("two")])
    mixed = Payload()
    mixed.CopyFrom(first)
    mixed.metadata[METADATA_WRAPPED_KEY] = second.metadata[METADATA_WRAPPED_KEY]
    fresh = build_codec(kms_settings)

    with pytest.raises(PayloadDecryptionError, match="does not match"):
        await fresh.decode([mixed])


async def test_missing_metadata_is_rejected(kms_settings: Settings):
    codec = build_codec(kms_settings)
    bare = Payload(metadata={"encoding": ENCODING}, data=b"\x00" * 40)

    with pytest.raises(PayloadDecryptionError, match="lacks"):
        await codec.decode([bare])


async def test_kms_down_fails_fast():
    settings = load_settings(
        environment="test",
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
        payload_kms_timeout_seconds=1.0,
    )
    codec = EncryptionCodec(KmsKeyring(settings))
    started = time.monotonic()

    with pytest.raises(DependencyUnavailableError) as raised:
        await codec.encode([json_payload("lost?")])

    assert raised.value.dependency == "kms"
    assert time.monotonic() - started < 10


async def test_kms_breaker_opens_and_fails_fast():
    settings = load_settings(
        environment="test",
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
        payload_kms_timeout_seconds=1.0,
        payload_kms_breaker_failures=2,
        payload_kms_breaker_reset_seconds=60,
    )
    codec = EncryptionCodec(KmsKeyring(settings))
    for _ in range(2):
        with pytest.raises(DependencyUnavailableError):
            await codec.encode([json_payload("x")])

    started = time.monotonic()
    with pytest.raises(DependencyUnavailableError, match="circuit breaker open") as raised:
        await codec.encode([json_payload("x")])

    assert time.monotonic() - started < 0.5
    assert raised.value.retry_after == 60
    assert codec.keyring.circuit_open
    assert REGISTRY.get_sample_value("portal_dependency_circuit_state", {"dependency": "kms"}) == 2


async def test_kms_configuration_error_keeps_breaker_closed(moto_server: ManagedProcess):
    settings = load_settings(
        environment="test",
        aws_endpoint_url=moto_server.url,  # type: ignore[attr-defined]
        payload_kms_breaker_failures=1,
    )
    keyring = KmsKeyring(settings)
    foreign = Payload(
        metadata={
            "encoding": ENCODING,
            METADATA_KEY_ID: data_key_id(b"not a wrapped key").encode(),
            METADATA_WRAPPED_KEY: b"not a wrapped key",
        },
        data=b"\x00" * 40,
    )

    for _ in range(2):
        with pytest.raises(PayloadDecryptionError):
            await EncryptionCodec(keyring).decode([foreign])

    assert not keyring.circuit_open


async def test_workflow_start_with_kms_down_raises_dependency_error(
    temporal_env: WorkflowEnvironment,
):
    # The API maps DependencyUnavailableError to a 503 with Retry-After, so a start
    # during a KMS outage is refused, not lost, and never becomes a 500.
    settings = load_settings(
        environment="test",
        temporal_address=temporal_env.client.service_client.config.target_host,
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
        payload_kms_timeout_seconds=1.0,
    )
    client = await connect(settings)

    with pytest.raises(DependencyUnavailableError) as raised:
        await client.start_workflow(
            "StackCheckWorkflow",
            {"requested_by": "kms outage test"},
            id=f"kms-down-{uuid.uuid4().hex[:8]}",
            task_queue="kms-down-never-polled",
            static_summary="ops test: never starts",
        )

    assert raised.value.dependency == "kms"


async def test_failure_message_is_encrypted(kms_settings: Settings):
    converter = build_data_converter(kms_settings)
    failure = Failure()
    await converter.encode_failure(ApplicationError("cannot reach +14155550123"), failure)

    assert "+14155550123" not in str(failure)
    assert failure.message == "Encoded failure"
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == "cannot reach +14155550123"


async def test_metrics_count_payloads(kms_settings: Settings):
    codec = build_codec(kms_settings)
    labels = {"operation": "encode", "outcome": "encrypted"}
    before = REGISTRY.get_sample_value("portal_ops_codec_payloads_total", labels) or 0

    await codec.encode([json_payload("a"), json_payload("b")])

    assert REGISTRY.get_sample_value("portal_ops_codec_payloads_total", labels) == before + 2
