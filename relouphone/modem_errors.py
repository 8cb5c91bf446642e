"""What a +CMS ERROR or +CME ERROR code means for a reply being sent: a pure table.

Three verdicts:

* ``fail``: the network or the modem refused this message for good (unassigned number,
  barred recipient, a PDU it cannot take). Trying again would only fail again.
* ``retry``: a passing trouble (congestion, a busy SIM, a temporary network failure): try
  again later, and give up after `[reply] max_attempts`.
* ``wait``: the modem cannot send anything right now (no network, SIM not ready, no
  service centre number): every reply would fail alike, so this one waits without spending
  an attempt; `[limits] max_wait` still bounds how long.

Codes from 3GPP TS 27.005 3.2.5 (+CMS: 0-127 are the network's RP causes of TS 24.011
annex E, 128-255 the TP failure causes of TS 23.040 9.2.3.22, 300-500 the modem's own) and
TS 27.007 9.2 (+CME). Codes from 512 up are the manufacturer's and taken as passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Meaning", "Verdict", "explain"]

Verdict = Literal["fail", "retry", "wait"]


@dataclass(frozen=True, slots=True)
class Meaning:
    text: str
    verdict: Verdict


_CMS: dict[int, tuple[str, Verdict]] = {
    1: ("unassigned number", "fail"),
    8: ("operator determined barring", "fail"),
    10: ("call barred", "fail"),
    17: ("network failure", "retry"),
    21: ("short message transfer rejected", "fail"),
    22: ("recipient's memory capacity exceeded", "retry"),
    27: ("destination out of service", "retry"),
    28: ("unidentified subscriber", "fail"),
    29: ("facility rejected", "fail"),
    30: ("unknown subscriber", "fail"),
    38: ("network out of order", "wait"),
    41: ("temporary failure", "retry"),
    42: ("congestion", "retry"),
    47: ("resources unavailable", "retry"),
    50: ("requested facility not subscribed", "fail"),
    69: ("requested facility not implemented", "fail"),
    81: ("invalid short message transfer reference", "retry"),
    95: ("invalid message", "fail"),
    96: ("invalid mandatory information", "fail"),
    97: ("message type non-existent", "fail"),
    98: ("message not compatible with the protocol state", "retry"),
    99: ("information element non-existent", "fail"),
    111: ("protocol error", "retry"),
    127: ("interworking error", "retry"),
    128: ("telematic interworking not supported", "fail"),
    129: ("short message type 0 not supported", "fail"),
    130: ("cannot replace short message", "fail"),
    143: ("unspecified TP-PID error", "fail"),
    144: ("data coding scheme not supported", "fail"),
    145: ("message class not supported", "fail"),
    159: ("unspecified TP-DCS error", "fail"),
    160: ("command cannot be actioned", "fail"),
    161: ("command unsupported", "fail"),
    175: ("unspecified TP-Command error", "fail"),
    176: ("TPDU not supported", "fail"),
    192: ("service centre busy", "retry"),
    193: ("no subscription to the service centre", "wait"),
    194: ("service centre system failure", "retry"),
    195: ("invalid recipient address", "fail"),
    196: ("recipient barred", "fail"),
    197: ("rejected as a duplicate", "fail"),
    198: ("TP-VPF not supported", "fail"),
    199: ("TP-VP not supported", "fail"),
    255: ("unspecified error", "retry"),
    300: ("modem failure", "retry"),
    301: ("SMS service of the modem reserved", "retry"),
    302: ("operation not allowed", "retry"),
    303: ("operation not supported", "fail"),
    304: ("invalid PDU mode parameter", "fail"),
    305: ("invalid text mode parameter", "fail"),
    310: ("SIM not inserted", "wait"),
    311: ("SIM PIN required", "wait"),
    312: ("PH-SIM PIN required", "wait"),
    313: ("SIM failure", "wait"),
    314: ("SIM busy", "retry"),
    315: ("SIM wrong", "wait"),
    316: ("SIM PUK required", "wait"),
    317: ("SIM PIN2 required", "wait"),
    318: ("SIM PUK2 required", "wait"),
    320: ("memory failure", "retry"),
    321: ("invalid memory index", "retry"),
    322: ("memory full", "retry"),
    330: ("service centre address unknown (set it with AT+CSCA)", "wait"),
    331: ("no network service", "wait"),
    332: ("network timeout", "wait"),
    340: ("no +CNMA acknowledgement expected", "retry"),
    500: ("unknown error", "retry"),
}

_CME: dict[int, tuple[str, Verdict]] = {
    0: ("phone failure", "retry"),
    3: ("operation not allowed", "retry"),
    4: ("operation not supported", "fail"),
    10: ("SIM not inserted", "wait"),
    11: ("SIM PIN required", "wait"),
    12: ("SIM PUK required", "wait"),
    13: ("SIM failure", "wait"),
    14: ("SIM busy", "retry"),
    15: ("SIM wrong", "wait"),
    16: ("incorrect password", "wait"),
    17: ("SIM PIN2 required", "wait"),
    18: ("SIM PUK2 required", "wait"),
    20: ("memory full", "retry"),
    23: ("memory failure", "retry"),
    30: ("no network service", "wait"),
    31: ("network timeout", "wait"),
    32: ("network not allowed, emergency calls only", "wait"),
    100: ("unknown error", "retry"),
}


def explain(kind: str | None, code: int | None) -> Meaning:
    """The meaning of ``+<kind> ERROR: <code>``; a bare ERROR (no code) is taken as passing."""
    table = _CMS if kind == "CMS" else _CME if kind == "CME" else {}
    if code is None:
        return Meaning("the modem answered ERROR", "retry")
    if code in table:
        text, verdict = table[code]
        return Meaning(text, verdict)
    if kind == "CMS" and 128 <= code <= 255:
        # TP failure causes not listed: 23.040 reserves them; the service centre refused.
        return Meaning(f"service centre error {code}", "retry" if code >= 0xE0 else "fail")
    if kind == "CMS" and code < 128:
        return Meaning(f"network error {code}", "retry")
    return Meaning(f"manufacturer error {code}", "retry")
