"""Escaped literals round-trip through each real language, with Hypothesis-generated values."""

from __future__ import annotations

import ast
import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.snippets import escape
from tests.snippets import toolchains

# Unicode scalar values without NUL (which no shell argument can hold).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
HOSTILE = [
    "",
    'it\'s "quoted"',
    "back\\slash \\n \\u0022 \\x41 \\U0001F600",
    "$(id) `id` | ; & > < * ? ~ # ${HOME}",
    "100% %s %d %%",
    "line\nbreak\r\n\ttab\x0b\x0c",
    "\x01\x1b[31m\x7f\x80\x9f",
    "\u202etxt.exe\u202c \u2066x\u2069 \u200f\u061c",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "\U0001f600\U0001d518\U0001f469\u200d\U0001f4bb",
    "\u2028\u2029\u0085\ufeff\u00a0\u200b",
    "e\u0301 caf\u00e9 \u00ad",
    "trailing newline\n",
    "x" * 5000,
    "*/ /* -- # // \"\"\" '''",
]


def test_display_safe_classification() -> None:
    assert escape.is_display_safe("a")
    assert escape.is_display_safe("\u00e9")
    assert escape.is_display_safe("\U0001f600")
    for char in "\n\t\x1b\x7f\x85\u202e\u2066\u200b\u2028\u00a0\u05d0\u0301\ufeff":
        assert not escape.is_display_safe(char), repr(char)


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_literals_show_no_unsafe_characters(value: str) -> None:
    for function in (escape.python_string, escape.javascript_string, escape.go_string):
        literal = function(value)
        assert all(escape.is_display_safe(char) for char in literal), function.__name__
    for function in (escape.java_string, escape.csharp_string):
        assert function(value).isascii()
    shell = escape.shell_word(value)
    assert all(escape.is_display_safe(char) or char == "\n" for char in shell)


def test_java_quote_uses_short_escapes() -> None:
    literal = escape.java_string('"\\\n\r')
    for forbidden in ("\\u0022", "\\u005c", "\\u000a", "\\u000d"):
        assert forbidden not in literal.lower()


def test_shell_rejects_nul() -> None:
    with pytest.raises(escape.EscapeError):
        escape.shell_word("a\x00b")


def test_comment_text_is_one_safe_line() -> None:
    text = escape.comment_text("a\nb\r\u2028c\u202e */ \\u000a")
    assert "\n" not in text
    assert "\r" not in text
    assert "<U+2028>" in text
    assert "<U+202E>" in text


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_python_round_trip(value: str) -> None:
    assert ast.literal_eval(escape.python_string(value)) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_python_round_trip_hostile(value: str) -> None:
    assert ast.literal_eval(escape.python_string(value)) == value


def shell_round_trip(shell: str, values: list[str]) -> list[bytes]:
    script = (
        "for v in "
        + " ".join(escape.shell_word(v) for v in values)
        + "; do printf '%s\\0' \"$v\"; done"
    )
    result = subprocess.run([shell, "-c", script], capture_output=True, timeout=30, check=True)
    return result.stdout.split(b"\0")[:-1]


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_shell_round_trip_hostile(shell: str) -> None:
    path = toolchains.require_tool(shell)
    assert shell_round_trip(path, HOSTILE) == [value.encode() for value in HOSTILE]


@pytest.mark.parametrize("shell", ["dash", "bash"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(TEXT, min_size=1, max_size=20))
def test_shell_round_trip_generated(shell: str, values: list[str]) -> None:
    path = toolchains.require_tool(shell)
    assert shell_round_trip(path, values) == [value.encode() for value in values]


def node_round_trip(values: list[str]) -> list[str]:
    node = toolchains.require_tool("node")
    items = ",\n".join(escape.javascript_string(value) for value in values)
    script = f"process.stdout.write(JSON.stringify([\n{items}\n]));"
    result = subprocess.run([node, "-e", script], capture_output=True, timeout=30, check=True)
    return json.loads(result.stdout)


def test_javascript_round_trip_hostile() -> None:
    assert node_round_trip(HOSTILE) == HOSTILE


@settings(max_examples=10, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=40))
def test_javascript_round_trip_generated(values: list[str]) -> None:
    assert node_round_trip(values) == values


def test_go_round_trip(tmp_path) -> None:
    go = toolchains.require_tool("go")
    values = HOSTILE + ["\x01\x7f\u0080", '\\x41"', "\U0010fffd"]
    items = ",\n".join("\t" + escape.go_string(value) for value in values)
    source = (
        'package main\n\nimport (\n\t"encoding/json"\n\t"os"\n)\n\n'
        f"func main() {{\n\tjson.NewEncoder(os.Stdout).Encode([]string{{\n{items},\n\t}})\n}}\n"
    )
    (tmp_path / "main.go").write_text(source, encoding="utf-8")
    result = toolchains.run([go, "run", "main.go"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == values


def test_java_round_trip(tmp_path) -> None:
    java = toolchains.require_tool("java")
    values = HOSTILE + ["\\u0022 \\\\u0041", "\U0010fffd"]
    items = ",\n".join(escape.java_string(value) for value in values)
    source = (
        "public class RoundTrip {\n  public static void main(String[] a) throws Exception {\n"
        f"    String[] v = {{\n{items}\n    }};\n"
        "    StringBuilder b = new StringBuilder();\n"
        "    for (String s : v) { b.append(s).append('\\u0000'); }\n"
        "    System.out.write(b.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));\n"
        "    System.out.flush();\n  }\n}\n"
    )
    (tmp_path / "RoundTrip.java").write_text(source, encoding="ascii")
    result = subprocess.run(
        [java, "RoundTrip.java"], cwd=tmp_path, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").split("\0")[:-1] == values


def test_csharp_round_trip(tmp_path) -> None:
    mcs, mono = toolchains.require_tool("mcs"), toolchains.require_tool("mono")
    values = HOSTILE + ["\\x41BC", "\U0010fffd"]
    items = ",\n".join(escape.csharp_string(value) for value in values)
    source = (
        "public static class RoundTrip {\n  public static void Main() {\n"
        f"    var v = new string[] {{\n{items}\n    }};\n"
        "    var o = System.Console.OpenStandardOutput();\n"
        "    var utf8 = new System.Text.UTF8Encoding(false);\n"
        '    foreach (var s in v) { var b = utf8.GetBytes(s + "\\u0000");'
        " o.Write(b, 0, b.Length); }\n"
        "    o.Flush();\n  }\n}\n"
    )
    (tmp_path / "RoundTrip.cs").write_text(source, encoding="ascii")
    built = toolchains.run([mcs, "-out:RoundTrip.exe", "RoundTrip.cs"], cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    result = subprocess.run([mono, "RoundTrip.exe"], cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").split("\0")[:-1] == values
