import string

from hypothesis import given
from hypothesis import strategies as st

from portal.keys.format import (
    BASE62_ALPHABET,
    SECRET_PATTERN,
    KeyEnvironment,
    generate_secret,
    parse_secret,
    secret_prefix,
)


def test_secret_has_prefix_and_length():
    for environment in KeyEnvironment:
        secret = generate_secret(environment)
        assert secret.startswith(secret_prefix(environment))
        assert len(secret) == len(secret_prefix(environment)) + 38
        assert parse_secret(secret) is environment


def test_secrets_differ():
    assert len({generate_secret(KeyEnvironment.TEST) for _ in range(1000)}) == 1000


def test_scanner_pattern_finds_secret_in_text():
    secret = generate_secret(KeyEnvironment.LIVE)
    text = f'config = {{"api_key": "{secret}"}}'
    match = SECRET_PATTERN.search(text)
    assert match is not None
    assert match.group(0) == secret


@given(
    position=st.integers(min_value=8, max_value=45),
    replacement=st.sampled_from(BASE62_ALPHABET),
)
def test_checksum_rejects_changed_character(position, replacement):
    secret = generate_secret(KeyEnvironment.LIVE)
    changed = secret[:position] + replacement + secret[position + 1 :]
    if changed != secret:
        assert parse_secret(changed) is None


@given(st.text(alphabet=BASE62_ALPHABET, min_size=38, max_size=38))
def test_random_look_alike_rejected(body):
    assert parse_secret("sk_live_" + body) is None


@given(st.text(alphabet=string.printable, max_size=60))
def test_arbitrary_text_rejected(text):
    assert parse_secret(text) is None


def test_wrong_prefix_rejected():
    secret = generate_secret(KeyEnvironment.LIVE)
    assert parse_secret(secret.replace("sk_live_", "sk_test_")) is None
    assert parse_secret(secret.replace("sk_live_", "pk_live_")) is None


def test_documented_example_is_well_formed():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api-keys.md").read_text()
    examples = [match.group(0) for match in SECRET_PATTERN.finditer(doc)]
    assert examples
    for example in examples:
        assert parse_secret(example) is KeyEnvironment.LIVE
