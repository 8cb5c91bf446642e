"""A GSM modem simulated on a real pseudo-terminal, for tests and the demo.

`SimulatedModem` is what tests use; `serve` and `send_control` run it standalone. The
modules, from the bottom up: `atparse` (line syntax), `results` (error codes), `state`
(plain data), `general`/`sms`/`calls` (command handlers), `engine` (the interpreter, no
I/O), `pty` (the port), `modem` (engine + pty + thread), `control` (Unix-socket driver).
"""

from relouphone.simulator.control import ControlError, send_control, serve
from relouphone.simulator.modem import SimulatedModem
from relouphone.simulator.state import CallRecord, ModemOptions, SentMessage

__all__ = [
    "CallRecord",
    "ControlError",
    "ModemOptions",
    "SentMessage",
    "SimulatedModem",
    "send_control",
    "serve",
]
