"""String-literal escaping for each snippet language and for the POSIX shell.

Every function returns source text that the target language evaluates to
exactly the input string. Some characters are invisible or change how the
code around them is displayed: control characters, bidirectional marks,
right-to-left letters, combining marks, non-ASCII spaces and line or
paragraph separators. They are always written as escapes, so a reader sees
what the snippet sends and no value can hide code (the "Trojan Source" attack).
"""

from __future__ import annotations

import unicodedata

# Bidirectional classes whose characters can reorder neighbouring source text on screen.
_REORDERING_BIDI = frozenset(
    {"R", "AL", "AN", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}
)


class EscapeError(ValueError):
    """The value cannot be written in the target language (NUL in a shell word, for example)."""


def is_display_safe(char: str) -> bool:
    """Return True if `char` may appear literally inside a string literal or comment.

    Printable ASCII is safe. A non-ASCII character is safe when it is a
    visible letter, digit, punctuation mark or symbol that renders left to
    right or neutrally, such as "é" or an emoji outside the BMP.
    """
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return True
    if code < 0xA0:
        return False
    category = unicodedata.category(char)
    if category[0] in "CZM":
        return False
    return unicodedata.bidirectional(char) not in _REORDERING_BIDI


def _check_scalar_values(value: str) -> None:
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise EscapeError(f"lone surrogate U+{ord(char):04X} is not a Unicode character")


def python_string(value: str) -> str:
    """Return a Python string literal for `value`."""
    _check_scalar_values(value)
    out = ['"']
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif is_display_safe(char):
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def javascript_string(value: str) -> str:
    """Return a JavaScript (ES2015 or later) string literal for `value`."""
    _check_scalar_values(value)
    out = ['"']
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif is_display_safe(char):
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\u{{{code:x}}}")
    out.append('"')
    return "".join(out)


def go_string(value: str) -> str:
    """Return a Go interpreted string literal for `value`.

    `\\x` escapes stand for single bytes in Go, so they are used for ASCII only
    and every other code point is written as `\\u` or `\\U`.
    """
    _check_scalar_values(value)
    out = ['"']
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif is_display_safe(char):
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def java_string(value: str) -> str:
    """Return a Java string literal for `value`, in ASCII only.

    javac reads source files in the platform encoding before Java 18, so every
    non-ASCII character is written as a `\\u` escape (astral characters as a
    surrogate pair). javac translates `\\u` escapes before it tokenizes, so a
    quote, a backslash and line breaks must use their short escapes: a
    `\\u0022` would end the literal.
    """
    _check_scalar_values(value)
    short = {
        "\\": "\\\\",
        '"': '\\"',
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\b": "\\b",
        "\f": "\\f",
    }
    out = ['"']
    for char in value:
        code = ord(char)
        if char in short:
            out.append(short[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            high, low = _surrogates(code)
            out.append(f"\\u{high:04x}\\u{low:04x}")
    out.append('"')
    return "".join(out)


def csharp_string(value: str) -> str:
    """Return a C# regular string literal for `value`, in ASCII only.

    C#'s `\\x` escape takes one to four hex digits, so it would swallow a
    following digit; fixed-width `\\u` and `\\U` escapes are used instead.
    """
    _check_scalar_values(value)
    short = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = ['"']
    for char in value:
        code = ord(char)
        if char in short:
            out.append(short[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def shell_word(value: str) -> str:
    """Return one POSIX shell word that expands to exactly `value`.

    Visible characters and newlines go inside single quotes, where the shell
    interprets nothing. A single quote becomes `\\'` between quoted runs. Other
    characters become `"$(printf '\\ooo')"` with the octal UTF-8 bytes: POSIX sh
    (dash included) has no `$'...'` quoting. A newline never goes through printf
    because command substitution would strip it at the end of the output.

    Raises:
        EscapeError: If `value` contains NUL, which no shell argument can hold.
    """
    if "\x00" in value:
        raise EscapeError("a shell argument cannot contain the NUL character")
    _check_scalar_values(value)
    if value == "":
        return "''"
    parts: list[str] = []
    run: list[str] = []
    unsafe: list[str] = []

    def flush_run() -> None:
        if run:
            parts.append("'" + "".join(run) + "'")
            run.clear()

    def flush_unsafe() -> None:
        if unsafe:
            octal = "".join(f"\\{byte:03o}" for byte in "".join(unsafe).encode("utf-8"))
            parts.append(f"\"$(printf '{octal}')\"")
            unsafe.clear()

    for char in value:
        if char == "'":
            flush_unsafe()
            flush_run()
            parts.append("\\'")
        elif char == "\n" or is_display_safe(char):
            flush_unsafe()
            run.append(char)
        else:
            flush_run()
            unsafe.append(char)
    flush_unsafe()
    flush_run()
    return "".join(parts)


def comment_text(value: str, max_length: int = 200) -> str:
    """Return `value` as one line that is safe inside a line comment of any snippet language.

    Unsafe characters (line breaks among them) become `<U+XXXX>`, so the text
    cannot end the comment or reorder the code around it.
    """
    out: list[str] = []
    for char in value:
        if is_display_safe(char):
            out.append(char)
        elif char in "\t\r\n":
            out.append(" ")
        else:
            out.append(f"<U+{ord(char):04X}>")
    text = " ".join("".join(out).split())
    return text if len(text) <= max_length else text[: max_length - 3] + "..."


def _surrogates(code: int) -> tuple[int, int]:
    code -= 0x10000
    return 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)
