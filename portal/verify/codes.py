"""One-time codes: drawing them, checking their form, and the text that carries them."""

from __future__ import annotations

import secrets

# Message text per language (the part of the locale before any `-`); the
# code and the minutes are filled in. Voice reads the digits one by one.
TEMPLATES = {
    "en": "Your verification code is {code}. It expires in {minutes} minutes. Never share it.",
    "es": "Tu código de verificación es {code}. Caduca en {minutes} minutos. No lo compartas.",
    "fr": "Votre code de vérification est {code}. Il expire dans {minutes} minutes. "
    "Ne le partagez pas.",
    "de": "Ihr Bestätigungscode lautet {code}. Er läuft in {minutes} Minuten ab. "
    "Geben Sie ihn nicht weiter.",
    "pt": "Seu código de verificação é {code}. Ele expira em {minutes} minutos. Não o compartilhe.",
}
DEFAULT_LANGUAGE = "en"


def draw_code(length: int) -> str:
    """Return a code of `length` decimal digits drawn with the `secrets` module."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def is_well_formed(code: str, length: int) -> bool:
    """Return True when `code` is exactly `length` ASCII digits.

    `str.isdigit` is not enough: it accepts full-width, Arabic-Indic and
    superscript digits, which would give one code several spellings.
    """
    return len(code) == length and all("0" <= character <= "9" for character in code)


def supported_language(locale: str) -> bool:
    """Return True when messages exist for `locale`'s language."""
    return locale.split("-")[0].lower() in TEMPLATES


def render_message(channel: str, code: str, locale: str, minutes: int) -> str:
    """Return the text that carries `code` on `channel` in `locale`'s language."""
    template = TEMPLATES.get(locale.split("-")[0].lower(), TEMPLATES[DEFAULT_LANGUAGE])
    spoken = " ".join(code) if channel == "voice" else code
    return template.format(code=spoken, minutes=minutes)
