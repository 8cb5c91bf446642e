"""Standalone mode: a simulator driven over a Unix socket (``relouphone simulator``/``inject``).

The protocol is one JSON object per connection, one line each way::

    {"sms": {"from": "+33612345678", "text": "Salut"}}  -> {"ok": true, "slots": [1]}
    {"call": {"from": "+33612345678"}}                   -> {"ok": true}   (null: withheld)
    {"sent": {}}            -> {"ok": true, "sent": [{"to", "text", "reference", "pdu", "sent_at"}]}
    {"commands": {}}        -> {"ok": true, "commands": ["ATE0", ...]}  (every line received)
    {"emit": {"line": "^RSSI: 14"}}                      -> {"ok": true}

A failure answers ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
from datetime import datetime
from typing import Any

from relouphone.errors import RelouphoneError
from relouphone.simulator.modem import SimulatedModem

__all__ = ["ControlError", "ControlServer", "send_control", "serve"]

_MAX_REQUEST = 64 * 1024


class ControlError(RelouphoneError):
    """The simulator's control socket could not be reached or refused a command."""


class ControlServer:
    """Answers control commands for `modem` on a Unix socket at `path`, until `shutdown`."""

    def __init__(self, modem: SimulatedModem, path: str) -> None:
        self.modem = modem
        self.path = path
        if os.path.exists(path):
            os.unlink(path)  # a stale socket from a killed run
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(path)
        self._socket.listen()
        self._wake_read, self._wake_write = os.pipe()

    def serve_forever(self) -> None:
        """Handle connections one at a time until `shutdown` (they are tiny and quick)."""
        while True:
            readable, _, _ = select.select([self._socket, self._wake_read], [], [])
            if self._wake_read in readable:
                return
            connection, _ = self._socket.accept()
            with connection:
                connection.settimeout(5.0)
                self._handle(connection)

    def shutdown(self) -> None:
        """Make `serve_forever` return; safe from a signal handler or another thread."""
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"!")

    def close(self) -> None:
        self._socket.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _handle(self, connection: socket.socket) -> None:
        try:
            request = json.loads(_read_line(connection))
            reply = {"ok": True, **self.execute(request)}
        except (ValueError, KeyError, TypeError, RelouphoneError) as error:
            reply = {"ok": False, "error": str(error) or type(error).__name__}
        except OSError:
            return  # the client went away: nobody to answer
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps(reply).encode() + b"\n")

    def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one command object; raises ValueError/KeyError on a bad one."""
        if not isinstance(request, dict) or len(request) != 1:
            raise ValueError('expected one command, e.g. {"sms": {...}}')
        ((name, args),) = request.items()
        if name == "sms":
            timestamp = args.get("timestamp")
            slots = self.modem.deliver_sms(
                args["from"],
                args["text"],
                timestamp=datetime.fromisoformat(timestamp) if timestamp else None,
            )
            return {"slots": slots}
        if name == "call":
            self.modem.ring(args.get("from"), rings=int(args.get("rings", 1)))
            return {}
        if name == "sent":
            return {"sent": [_sent_json(m) for m in self.modem.sent]}
        if name == "emit":
            self.modem.emit(args["line"])
            return {}
        if name == "commands":
            return {"commands": self.modem.commands}
        if name == "stored":
            return {"stored": {str(slot): pdu for slot, pdu in self.modem.stored.items()}}
        if name == "fault":
            self._fault(args)
            return {}
        known = "sms, call, sent, commands, emit, stored, fault"
        raise ValueError(f"unknown command {name!r} ({known})")

    def _fault(self, args: dict[str, Any]) -> None:
        """{"fault": {"kind": ...}}: the faults `SimulatedModem` can play, from outside."""
        kind = args["kind"]
        modem = self.modem
        simple = {
            "unplug": modem.unplug,
            "replug": modem.replug,
            "recover": modem.recover,
            "reboot": modem.reboot,
        }
        if kind in simple:
            simple[kind]()
        elif kind == "hang":
            modem.hang(resettable=bool(args.get("resettable", True)))
        elif kind == "network":
            modem.set_network(bool(args["available"]))
        elif kind == "slow":
            modem.slow(float(args["seconds"]))
        elif kind == "noise":
            modem.noise(bytes.fromhex(args["hex"]))
        elif kind == "fail_next":
            modem.fail_next(args["command"], cms=args.get("cms"), cme=args.get("cme"))
        else:
            raise ValueError(
                f"unknown fault {kind!r} (unplug, replug, hang, recover, reboot, network,"
                " slow, noise, fail_next)"
            )


def _sent_json(message: Any) -> dict[str, Any]:
    return {
        "to": message.submit.recipient.number,
        "text": message.submit.text,
        "reference": message.reference,
        "pdu": message.pdu,
        "sent_at": message.sent_at.isoformat(),
    }


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST:
            raise ValueError("request too long")
    return data


def send_control(control: str, command: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to a running simulator and return its reply.

    Raises `ControlError` when the socket cannot be reached or the simulator refuses.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(control)
            client.sendall(json.dumps(command).encode() + b"\n")
            reply = json.loads(_read_line(client))
    except (OSError, ValueError) as error:
        raise ControlError(f"simulator control socket {control}: {error}") from error
    if not reply.get("ok"):
        raise ControlError(f"simulator refused {command}: {reply.get('error')}")
    return reply


def serve(symlink: str | None, control: str, **options: Any) -> None:
    """Run a simulator until SIGINT/SIGTERM: print its port, obey the control socket.

    `options` are `SimulatedModem` keyword arguments (slots, pin, link_baudrate...).
    Must run in the main thread (it installs signal handlers).
    """
    with SimulatedModem(symlink=symlink, **options) as modem:
        server = ControlServer(modem, control)
        previous = {
            signum: signal.signal(signum, lambda *_: server.shutdown())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            print(modem.port, flush=True)
            print(f"control socket: {control}", file=sys.stderr, flush=True)
            server.serve_forever()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            server.close()


def serve_in_thread(modem: SimulatedModem, control: str) -> tuple[ControlServer, threading.Thread]:
    """A control server for an already started modem, in a thread (for tests)."""
    server = ControlServer(modem, control)
    thread = threading.Thread(target=server.serve_forever, name="relouphone-sim-control")
    thread.start()
    return server, thread
