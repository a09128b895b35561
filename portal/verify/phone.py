"""Phone numbers as Verify sees them: parsed with phonenumbers, keyed and stored in E.164."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

MAX_INPUT_LENGTH = 64


class InvalidPhoneNumber(ValueError):
    """The input is not a valid phone number; the message explains how to fix it."""


@dataclass(frozen=True)
class PhoneNumber:
    """A valid phone number.

    Attributes:
        e164: The number in E.164 form, such as +14155552671. Personal data:
            never log it, never put it in a metric label, workflow id or
            search attribute.
        region: ISO 3166 region of the number, such as US.
    """

    e164: str
    region: str

    @property
    def masked(self) -> str:
        """The number with every digit hidden but the country code and the last two."""
        return mask(self.e164)


def parse_phone_number(raw: str) -> PhoneNumber:
    """Parse `raw` into E.164, accepting any formatting and any Unicode decimal digits.

    `+1 (415) 555-2671`, `+14155552671` and full-width or Arabic-Indic forms
    of the same digits all give `+14155552671`, so caps keyed on the result
    count them as one recipient.

    Raises:
        InvalidPhoneNumber: for anything that is not a valid number with its
            country code.
    """
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(f"must hold at most {MAX_INPUT_LENGTH} characters")
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(
            "is not a phone number; send it in E.164 form with its country code, "
            "such as +14155552671"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            "is not a valid phone number for its country code; check the digits and send it "
            "in E.164 form, such as +14155552671"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number) or "ZZ"
    return PhoneNumber(e164=e164, region=region)


def mask(e164: str) -> str:
    """Hide every digit of an E.164 number but its country code and last two digits."""
    number = phonenumbers.parse(e164, None)
    country = f"+{number.country_code}"
    rest = e164[len(country) :]
    return country + "*" * (len(rest) - 2) + rest[-2:]
