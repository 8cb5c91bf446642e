"""The pseudo-terminal that stands in for a USB modem's /dev/ttyUSB port.

Two lessons from running gammu-smsd against a pty (see tests/test_simulator_gammu.py):

* The port is put in raw mode at once. A fresh pty echoes and translates line endings in
  its line discipline; a client that opens it before configuring it would see its own
  commands come back, and the modem would read its own answers as commands.
* The simulator keeps its own descriptor of the port (the slave side) open for its whole
  life. Otherwise, when the client closes the port, the master side reads EIO and loses
  the terminal settings, and a client that closes and reopens (as gammu does on errors)
  finds a dead port.
"""

from __future__ import annotations

import contextlib
import os
import tty

__all__ = ["PtyLink"]


class PtyLink:
    """A pty pair: `master` is the modem's end, `port` the path a client opens."""

    def __init__(self, symlink: str | None = None) -> None:
        self.master, self._slave = os.openpty()
        try:
            tty.setraw(self._slave)
            os.set_blocking(self.master, False)
            self.device = os.ttyname(self._slave)
            self.symlink = symlink
            if symlink is not None:
                _replace_symlink(self.device, symlink)
        except BaseException:
            os.close(self.master)
            os.close(self._slave)
            raise

    @property
    def port(self) -> str:
        """The stable symlink if there is one, else the /dev/pts/N device."""
        return self.symlink or self.device

    def remove_symlink(self) -> None:
        """Take the path away (if it still points at our device): the port is gone."""
        if self.symlink is not None:
            with contextlib.suppress(OSError):
                if os.readlink(self.symlink) == self.device:
                    os.unlink(self.symlink)

    def close(self) -> None:
        """Close both ends and remove the symlink."""
        self.remove_symlink()
        os.close(self.master)
        os.close(self._slave)


def _replace_symlink(target: str, path: str) -> None:
    """Point `path` at `target`, replacing a stale link left by a crashed run."""
    if os.path.islink(path):
        os.unlink(path)
    elif os.path.exists(path):
        raise FileExistsError(f"{path} exists and is not a symlink; not replacing it")
    os.symlink(target, path)
