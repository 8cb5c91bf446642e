"""Final result codes and the errors a command handler raises to produce them.

3GPP TS 27.007 (``+CME ERROR``) and TS 27.005 (``+CMS ERROR``) number their errors; AT+CMEE
chooses how they are shown. The simulator follows the specs where real modems disagree:

* ``+CME ERROR`` is plain ``ERROR`` with CMEE=0, ``+CME ERROR: <n>`` with CMEE=1 and the
  text with CMEE=2.
* ``+CMS ERROR`` (SMS commands) is always shown, as a number, or as text with CMEE=2
  (27.005 3.2.5: it does not depend on CMEE=0).
* An unknown command, or a line that does not parse, is plain ``ERROR`` whatever CMEE says,
  as Quectel and SIMCom modems do (it is a syntax error of the line, not an ME error).
"""

from __future__ import annotations

__all__ = ["CME_TEXT", "CMS_TEXT", "CmeError", "CmsError", "CommandError", "UnknownCommand"]

CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    16: "incorrect password",
    21: "invalid index",
    22: "not found",
    30: "no network service",
    50: "Incorrect parameters",
    100: "unknown",
}

CMS_TEXT = {
    300: "ME failure",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    316: "SIM PUK required",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    500: "unknown error",
}


class CommandError(Exception):
    """A command failed; `result_line(cmee)` is what the modem prints."""

    def result_line(self, cmee: int) -> str:
        return "ERROR"


class UnknownCommand(CommandError):
    """The command is not in the simulator's table."""


class CmeError(CommandError):
    """A mobile-equipment error (27.007 9.2)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    def result_line(self, cmee: int) -> str:
        if cmee == 0:
            return "ERROR"
        if cmee == 2:
            return f"+CME ERROR: {CME_TEXT.get(self.code, self.code)}"
        return f"+CME ERROR: {self.code}"


class CmsError(CommandError):
    """A message-service error (27.005 3.2.5)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    def result_line(self, cmee: int) -> str:
        if cmee == 2:
            return f"+CMS ERROR: {CMS_TEXT.get(self.code, self.code)}"
        return f"+CMS ERROR: {self.code}"
