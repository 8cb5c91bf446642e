"""Showing untrusted text (SMS bodies, sender names) on a terminal without letting it act.

An SMS can carry escape sequences, bidi overrides or NULs; printed raw they could rewrite
the operator's screen or disguise a number. Everything that is not plainly printable is
shown as a visible escape instead.
"""

from __future__ import annotations

import unicodedata

__all__ = ["safe", "safe_json"]

# Categories that never print as themselves: controls, format (bidi, zero-width),
# surrogates, private use, unassigned, line and paragraph separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def safe(text: str | None, *, keep_newlines: bool = False) -> str:
    """`text` with every invisible or controlling character escaped as \\xNN or \\uNNNN."""
    if text is None:
        return ""
    if text.isprintable() and "\\" not in text:
        return text  # the usual case, checked in C: every log line goes through here
    out = []
    for char in text:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif unicodedata.category(char) in _HIDDEN or char == "\\":
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_json(document: str) -> str:
    """JSON text with every invisible or controlling character as a \\uXXXX escape.

    Still valid JSON that reads back to the exact values (such characters can only stand
    inside strings), but a terminal showing it is not taken over by a bidi override.
    """
    return "".join(_json_escape(c) if unicodedata.category(c) in _HIDDEN else c for c in document)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
