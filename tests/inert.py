"""A witness that hostile data stays inert in a page: HTML parsed, inline JavaScript lexed.

Independent of ``maps.escaping``: the page is read the way a browser would, in its two layers.
- HTML: only the tags our pages and folium write, no ``on…`` attribute, no ``javascript:``
  URL, and (with a nonce) no inline script without the response's nonce.
- Inline scripts are split into code, string literals and template literals (with their
  ``${…}`` expressions). Code must not contain the payloads' marker; every ``${…}`` must be one
  folium's templates write; the text of a template literal is HTML that jQuery/Leaflet parse,
  so it gets the HTML checks too; string literals, decoded, must not hold a raw payload (folium's
  ``GeoJsonTooltip`` writes GeoJSON property strings with ``innerHTML``).
- No payload appears anywhere in the page source as written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "${alert(document.cookie)}",
    "`;alert(1);`",
    "</script><script>alert(1)</script>",
)
#: Short payloads for columns of 20 characters (hazard codes, phones).
SHORT_PAYLOADS = ("${alert(1)}", "`;alert(1);`", "<b onclick=x>")
#: A word every payload runs; it must never be in code.
MARKER = "alert"

ALLOWED_TAGS = {
    "html", "head", "body", "meta", "title", "link", "script", "style", "noscript", "main",
    "div", "span", "h1", "p", "b", "br", "a", "dl", "dt", "dd", "form", "label", "input",
    "button", "table", "tr", "th", "td",
}  # fmt: skip
#: The ``${…}`` expressions folium's own templates put in template literals (GeoJsonTooltip).
FOLIUM_EXPRESSIONS = {"aliases[i]", "handleObject(layer.feature.properties[v])"}


@dataclass
class Lexed:
    code: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    expressions: list[str] = field(default_factory=list)


def lex(js: str) -> Lexed:
    """Split JavaScript into code, string literals and template literals (no regex literals)."""
    out = Lexed()
    end = _scan(js, 0, out, in_expression=False)
    assert end == len(js)
    return out


def _scan(js: str, i: int, out: Lexed, in_expression: bool) -> int:
    depth = 0
    code: list[str] = []
    while i < len(js):
        ch = js[i]
        if ch in "'\"":
            j = i + 1
            while js[j] != ch:
                assert js[j] != "\n", f"unterminated string at {i}: {js[i : i + 80]!r}"
                j += 2 if js[j] == "\\" else 1
            out.strings.append(js[i + 1 : j])
            i = j + 1
        elif ch == "`":
            i = _template(js, i + 1, out)
        elif js.startswith("//", i):
            i = js.find("\n", i) if "\n" in js[i:] else len(js)
        elif js.startswith("/*", i):
            i = js.index("*/", i) + 2
        else:
            if in_expression and ch == "{":
                depth += 1
            elif in_expression and ch == "}":
                if depth == 0:
                    out.code.append("".join(code))
                    return i
                depth -= 1
            code.append(ch)
            i += 1
    assert not in_expression, "unterminated ${ expression"
    out.code.append("".join(code))
    return i


def _template(js: str, i: int, out: Lexed) -> int:
    text: list[str] = []
    while True:
        assert i < len(js), "unterminated template literal"
        ch = js[i]
        if ch == "\\":
            text.append(js[i + 1])
            i += 2
        elif ch == "`":
            out.templates.append("".join(text))
            return i + 1
        elif js.startswith("${", i):
            sub = Lexed()
            end = _scan(js, i + 2, sub, in_expression=True)
            out.expressions.append(js[i + 2 : end].strip())
            out.code += sub.code
            out.strings += sub.strings
            out.templates += sub.templates
            out.expressions += sub.expressions
            text.append("\0")  # where the expression's value goes
            i = end + 1
        else:
            text.append(ch)
            i += 1


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open_script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"unexpected <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if value and re.match(r"\s*javascript:", value, re.I):
                self.problems.append(f"javascript: URL in <{tag} {name}>")
        if tag == "script":
            self._open_script = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._open_script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open_script is not None:
            self.scripts.append((self._open_script, "".join(self._text)))
            self._open_script = None


def _html_problems(markup: str) -> tuple[list[str], list[tuple[dict[str, str | None], str]]]:
    page = _Page()
    page.feed(markup)
    page.close()
    return page.problems, page.scripts


def _decoded(literal: str) -> str:
    try:
        return str(json.loads(f'"{literal}"'))
    except ValueError:
        return literal


def inert_problems(markup: str, nonce: str | None = None) -> list[str]:
    """Every way ``markup`` could run a payload; empty when the page is inert."""
    problems = [
        f"raw payload {p!r} in the page" for p in (*PAYLOADS, *SHORT_PAYLOADS) if p in markup
    ]
    html_problems, scripts = _html_problems(markup)
    problems += html_problems
    for attrs, text in scripts:
        if "src" in attrs:
            continue
        if nonce is not None and attrs.get("nonce") != nonce:
            problems.append("inline script without the response's nonce")
        try:
            lexed = lex(text)
        except (AssertionError, IndexError, ValueError) as exc:
            # Data broke the script's syntax (a quote or backtick closed a literal early).
            problems.append(f"inline script does not lex: {exc}")
            continue
        problems += [f"{MARKER} in code: {c.strip()[:120]!r}" for c in lexed.code if MARKER in c]
        problems += [
            f"template expression ${{{e}}} not from folium"
            for e in lexed.expressions
            if e.replace(".toLocaleString()", "") not in FOLIUM_EXPRESSIONS
        ]
        for template in lexed.templates:
            problems += [f"in a template literal: {p}" for p in _html_problems(template)[0]]
        for literal in lexed.strings:
            decoded = _decoded(literal)
            problems += [
                f"raw payload {p!r} in a string literal"
                for p in (*PAYLOADS, *SHORT_PAYLOADS)
                if p in decoded
            ]
            problems += [f"in a string literal: {p}" for p in _html_problems(decoded)[0]]
    return problems
