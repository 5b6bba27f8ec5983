"""The one escaping function for every value that reaches a map or a page as HTML or JavaScript.

Folium puts popup and tooltip HTML inside a JavaScript template literal (`` $(`<div>…</div>`) ``)
that jQuery or Leaflet then parse as HTML, and Leaflet's layer control and folium's
``GeoJsonTooltip`` write names with ``innerHTML``. A value therefore passes through two parsers:
the JavaScript one (where a backtick ends the literal, ``${`` starts code and a backslash starts
an escape) and the HTML one (where ``<``, ``&`` and quotes matter). Encoding all of these as HTML
character references makes the value inert for both: the JavaScript parser sees plain text, and
the HTML parser turns the references back into the characters the user typed, as text.
"""

from __future__ import annotations

#: Character → HTML character reference. ``<`` covers ``</script`` too; ``$`` covers ``${``.
_REFERENCES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "`": "&#96;",
    "$": "&#36;",
    "\\": "&#92;",
}
_TABLE = str.maketrans(_REFERENCES)


def escape_markup(value: object) -> str:
    """``value`` as text safe in HTML, a quoted attribute, and a JS template literal of HTML.

    ``None`` becomes the empty string; anything else is ``str()``-ed first.

    Examples
    --------
    >>> escape_markup("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> escape_markup("${alert(1)}`\\\\")
    '&#36;{alert(1)}&#96;&#92;'
    >>> escape_markup("甲村")
    '甲村'
    """
    if value is None:
        return ""
    return str(value).translate(_TABLE)
