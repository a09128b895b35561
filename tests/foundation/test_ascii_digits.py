"""Request patterns accept ASCII digits only, so non-ASCII digits get a 400, not a 5xx.

Pydantic's `\\d` matches every Unicode decimal digit. Such input passed validation
and then failed in semver, Redis or the auth-service's TOTP comparison.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.routers.auth import MfaRequest, SignInRequest
from api.routers.sdk import ReleaseRequest

ARABIC_INDIC_CODE = "\u0661\u0662\u0663\u0664\u0665\u0666"
FULL_WIDTH_CODE = "\uff11\uff12\uff13\uff14\uff15\uff16"


@pytest.mark.parametrize("code", [ARABIC_INDIC_CODE, FULL_WIDTH_CODE, "12345\u0666"])
def test_totp_code_rejects_non_ascii_digits(code: str) -> None:
    with pytest.raises(ValidationError):
        MfaRequest(code=code)
    with pytest.raises(ValidationError):
        SignInRequest(email="dev@example.com", password="x", totp_code=code)


def test_totp_code_accepts_ascii_digits() -> None:
    assert MfaRequest(code="123456").code == "123456"


@pytest.mark.parametrize("version", ["1\u0663.0.0", "1.0.0-rc.1\u0663", "\uff11.0.0"])
def test_release_version_rejects_non_ascii_digits(version: str) -> None:
    with pytest.raises(ValidationError):
        ReleaseRequest(version=version)


def test_release_version_accepts_ascii_digits() -> None:
    assert ReleaseRequest(version="10.20.30-rc.12").version == "10.20.30-rc.12"
