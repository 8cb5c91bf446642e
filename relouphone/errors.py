"""The one error tree of relouphone: every failure the package reports is one of these."""

__all__ = [
    "ConfigError",
    "ModemError",
    "ModemTimeout",
    "PduError",
    "RelouphoneError",
    "SendUncertain",
    "SimPinError",
    "StoreError",
]


class RelouphoneError(Exception):
    """Base of every error relouphone raises on purpose."""


class ConfigError(RelouphoneError):
    """The configuration file is missing, unreadable or invalid."""


class StoreError(RelouphoneError):
    """The database could not be opened, migrated or written."""


class ModemError(RelouphoneError):
    """The modem answered with an error, or could not be reached.

    `code` is the +CME/+CMS error number when the modem gave one, `kind` "CME" or "CMS".
    """

    def __init__(self, message: str, *, kind: str | None = None, code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.code = code


class ModemTimeout(ModemError, TimeoutError):
    """The modem did not answer in time."""


class SimPinError(ModemError):
    """The SIM needs a PIN we do not have, or refused ours: retrying could lock it (PUK).

    `refused_pin` is true when the SIM was given the configured PIN and said no.
    """

    def __init__(self, message: str, *, refused_pin: bool = False):
        super().__init__(message)
        self.refused_pin = refused_pin


class PduError(RelouphoneError, ValueError):
    """A PDU could not be decoded or encoded."""


class SendUncertain(ModemError):
    """The link failed after a message was handed to the modem: it may have gone out.

    A reply in this state is never sent again, so no one is messaged twice.
    """
