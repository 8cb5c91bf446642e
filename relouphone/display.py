"""Showing untrusted text (SMS bodies, sender names) on a terminal without letting it act.

An SMS can carry escape sequences, bidi overrides or NULs; printed raw they could rewrite
the operator's screen or disguise a number. Everything that is not plainly printable is
shown as a visible escape instead.
"""

from __future__ import annotations

import unicodedata

__all__ = ["safe"]

# Categories that never print as themselves: controls, format (bidi, zero-width),
# surrogates, private use, unassigned, line and paragraph separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def safe(text: str | None, *, keep_newlines: bool = False) -> str:
    """`text` with every invisible or controlling character escaped as \\xNN or \\uNNNN."""
    if text is None:
        return ""
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
