import pyotp
import pytest
from pydantic import SecretStr

from portal.keys.format import KeyEnvironment
from portal.settings import load_settings
from services.auth_service.server import DEVELOPMENT_PEPPER, load_pepper
from services.auth_service.store import AuthStore


@pytest.fixture
def store(tmp_path):
    store = AuthStore(tmp_path / "auth.db", b"p" * 32)
    yield store
    store.close()


def test_database_holds_no_secret_or_password(store, tmp_path):
    key, secret = store.create_key("tenant-a", "k", KeyEnvironment.LIVE, ["messages:send"], "usr_1")
    store.create_user(
        "tenant-a", "a@example.com", "correct horse battery", ["developer"], "JBSWY3DPEHPK3PXP"
    )
    assert store.verify_key(secret).key_id == key.key_id
    store.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert secret.encode() not in raw
    assert b"correct horse battery" not in raw


def test_other_pepper_cannot_verify(store, tmp_path):
    _, secret = store.create_key("tenant-a", "k", KeyEnvironment.TEST, ["messages:send"], "usr_1")
    store.close()
    other = AuthStore(tmp_path / "auth.db", b"q" * 32)
    assert other.verify_key(secret) is None
    other.close()


def test_revoke_is_idempotent(store):
    key, secret = store.create_key("tenant-a", "k", KeyEnvironment.TEST, ["messages:send"], "usr_1")
    first = store.revoke_key("tenant-a", key.key_id, "usr_1")
    second = store.revoke_key("tenant-a", key.key_id, "usr_2")
    assert first.revoked
    assert second.revoked_at == first.revoked_at
    assert store.verify_key(secret) is None
    assert store.revoke_key("tenant-b", key.key_id, "usr_1") is None


def test_totp_step_accepted_once(store):
    secret = pyotp.random_base32()
    user = store.create_user("tenant-a", "b@example.com", "x" * 12, ["developer"], secret)
    now = 1_700_000_015.0
    code = pyotp.TOTP(secret).at(now)
    assert store.verify_totp(user.user_id, code, now=now)
    assert not store.verify_totp(user.user_id, code, now=now)
    next_code = pyotp.TOTP(secret).at(now + 30)
    assert store.verify_totp(user.user_id, next_code, now=now)
    assert not store.verify_totp(user.user_id, pyotp.TOTP(secret).at(now + 90), now=now)


def test_wrong_password_rejected(store):
    store.create_user("tenant-a", "c@example.com", "x" * 12, ["developer"], pyotp.random_base32())
    assert store.authenticate_user("c@example.com", "y" * 12) is None
    assert store.authenticate_user("nobody@example.com", "x" * 12) is None
    assert store.authenticate_user("C@example.com", "x" * 12).email == "c@example.com"


def test_pepper_required_in_production():
    with pytest.raises(SystemExit, match="PORTAL_AUTH_SERVICE_PEPPER is missing"):
        load_pepper(load_settings(environment="production"))
    with pytest.raises(SystemExit, match="too short"):
        load_pepper(load_settings(environment="production", auth_service_pepper=SecretStr("")))
    assert load_pepper(load_settings(environment="local")) == DEVELOPMENT_PEPPER
