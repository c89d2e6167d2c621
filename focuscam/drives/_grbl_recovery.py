"""Re-synchronising and homing a GRBL 1.1 board: after a stop, an alarm or a reset of its own.

:class:`GrblRecovery` is what a :class:`~focuscam.drives.grbl.GrblDrive` has to make its
position known again: it cancels a jog, waits for the board to settle, clears an alarm with
``$X`` only where the user allowed it, refuses to trust a board that reset itself, and homes
with ``$H``. It talks through the drive's :class:`~focuscam.drives._grbl_link.GrblLink` and the
drive's status query (which marks the position unknown on an alarm); turning a report into a
position stays in the drive. Z is in millimetres here, as on the wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import DeviceError, DeviceTimeout, PositionUnknownError
from ._grbl_link import JOG_CANCEL, UNLOCK, GrblLink, StatusReport

__all__ = ["GrblRecovery"]


class GrblRecovery:
    """Resync and homing of one GRBL 1.1 board.

    Parameters
    ----------
    link : GrblLink
        The drive's connection to the board.
    status : callable
        ``status()`` -> the board's :class:`StatusReport` (the drive's query: an alarm marks
        its position unknown).
    poll_s : float
        Interval between status polls while the board settles, in s.

    Attributes
    ----------
    reset_seen : bool
        True once the board reset itself since its position was known (its step counter
        restarted): a resync then trusts it only when unlocking is allowed; homing clears it.
    """

    def __init__(self, link: GrblLink, status: Callable[[], StatusReport], poll_s: float) -> None:
        self._link = link
        self._status = status
        self._poll = poll_s
        self.reset_seen = False

    def resync(self, allow_unlock: bool) -> StatusReport:
        """Cancel any jog, settle at Idle (``$X`` on an alarm if ``allow_unlock``); the report.

        Raises PositionUnknownError when the board stays in alarm or another state, or when it
        reset itself and unlocking is not allowed.
        """
        line = self._link.line
        line.write_realtime(JOG_CANCEL)
        time.sleep(self._poll)
        line.discard_input()
        report = self._status_tolerant()
        if report.state == "Alarm":
            if not allow_unlock:
                raise PositionUnknownError(
                    f"GRBL is in alarm: home the machine ($H), or check the position and "
                    f"{UNLOCK} to clear it with $X"
                )
            self._link.command("$X")
            report = self._status_tolerant()
        deadline = time.monotonic() + self._link.timeout
        while report.state not in ("Idle", "Alarm") and time.monotonic() < deadline:
            time.sleep(self._poll)
            report = self._status_tolerant()
        if report.state != "Idle":
            raise PositionUnknownError(
                f"GRBL is in state {report.state}, not Idle: resolve it (e.g. resume with ~) and resync"
            )
        if self.reset_seen and not allow_unlock:
            raise PositionUnknownError(
                f"GRBL reset itself since its position was known: its counter restarted, so the "
                f"position it reports means nothing: home it ($H), or check where the optics are "
                f"and {UNLOCK} to accept the board's position"
            )
        self.reset_seen = False
        return report

    def _status_tolerant(self, attempts: int = 5) -> StatusReport:
        """A status report for re-synchronisation: skips alarm/banner lines and garbled lines.

        A timeout is raised at once; other failures are retried ``attempts`` times.
        """
        for _ in range(attempts - 1):
            try:
                return self._status()
            except DeviceTimeout:
                raise
            except DeviceError:
                continue  # an ALARM or banner line already seen, or a garbled line: ask again
        return self._status()

    def home(self) -> StatusReport:
        """Home the machine (``$H``, up to 60 s) and return the status report after it."""
        self._link.command("$H", timeout=max(self._link.timeout, 60.0))
        self.reset_seen = False
        return self._status()
