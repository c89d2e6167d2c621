"""A Micro-Manager focus device (through pymmcore-plus) as a focuscam focus drive.

``mm:PATH/TO/MMConfig.cfg`` drives the core's focus device, ``mm:CFG#Label`` another stage;
``open_drive(core, limits=(lo, hi))`` drives the focus device of a ``CMMCorePlus`` you already
have (it stays yours: closing the drive does not unload it). Positions are um, as in
Micro-Manager.

Every contract of :class:`~focuscam.drives.base.FocusDrive` holds: the soft limits (required:
Micro-Manager does not know a safe range for your optics) and the backlash overshoot are
checked before ``setPosition`` is called; a move polls ``deviceBusy`` (so :meth:`stop` can halt
it, through ``core.stop``) up to ``timeout_s``, then calls ``waitForDevice`` before the position
is read back; any device error (an exception from the core or the adapter, a stage still busy
after ``timeout_s``) leaves the position unknown until :meth:`resync`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError
from ..mmcore import first_line, open_target
from .base import FocusDrive

__all__ = ["MMCoreDrive"]

#: Seconds between ``deviceBusy`` polls during a move.
POLL_S = 0.005
#: Seconds between trajectory samples read during a move.
SAMPLE_S = 0.02


class MMCoreDrive(FocusDrive):
    """A focus stage of a Micro-Manager core; positions in um.

    Parameters
    ----------
    target : CMMCorePlus or str
        A core, or ``CFG`` / ``CFG#Label`` (a Micro-Manager configuration file, opened once
        per process by :func:`focuscam.mmcore.acquire_core`).
    limits : (float, float)
        Soft limits in um (required).
    stage : str, optional
        The stage's device label (default: the label after ``#``, else the core's focus device).
    backlash_um, approach, settle_s, clock
        As for :class:`~focuscam.drives.base.FocusDrive`.
    timeout_s : float, optional
        Seconds a move may keep the stage busy before it counts as failed (default: the core's
        timeout, ``getTimeoutMs``, 5 s unless the configuration changes it).
    """

    scheme = "mm"

    def __init__(
        self,
        target: Any,
        *,
        limits: Any = None,
        stage: str | None = None,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.0,
        timeout_s: float | None = None,
        clock: Any = None,
    ) -> None:
        super().__init__(
            limits=limits, backlash_um=backlash_um, approach=approach, settle_s=settle_s, clock=clock
        )
        if timeout_s is not None and (
            isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0
        ):
            raise InputError(f"timeout_s {timeout_s!r} must be a number of seconds > 0")
        self._release = lambda: None
        self.core, self._release, label = open_target(target, stage, what="drive")
        try:
            self.label = self._resolve_label(label)
            core_timeout = float(self.core.getTimeoutMs()) / 1000.0
        except BaseException:
            self._release()
            raise
        self.timeout_s = float(timeout_s) if timeout_s is not None else core_timeout
        self.spec = f"mm:{self.label}"
        self._mover: int | None = None  # thread id of a move in progress
        try:
            self._record(self._now(), self._read_position())
        except DeviceError as exc:
            self._mark_unknown(f"position unreadable when opened: {exc}")

    def _resolve_label(self, label: str | None) -> str:
        core = self.core
        if label is None:
            label = core.getFocusDevice()
            if not label:
                raise InputError(
                    "the Micro-Manager core has no focus device: set Core-Focus in the configuration "
                    "or name the stage with mm:CFG#Label"
                )
        from pymmcore_plus import DeviceType

        if label not in core.getLoadedDevices():
            raise InputError(
                f"Micro-Manager device {label!r} is not loaded: use one of "
                f"{', '.join(core.getLoadedDevicesOfType(DeviceType.Stage)) or 'no stage is loaded'}"
            )
        if core.getDeviceType(label) != DeviceType.Stage:
            raise InputError(f"Micro-Manager device {label!r} is not a focus (Z) stage: name a Stage device")
        return str(label)

    # ------------------------------------------------------------------ core calls
    def _call(self, doing: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except TimeoutError as exc:
            raise DeviceTimeout(
                f"Micro-Manager stage {self.label} did not finish {doing} in time ({first_line(exc)}): "
                f"check the stage, then resync"
            ) from None
        except Exception as exc:  # the core and adapters raise RuntimeError and others
            raise DeviceError(
                f"Micro-Manager stage {self.label} failed {doing}: {first_line(exc)}; "
                f"check the stage, then resync"
            ) from None

    # ------------------------------------------------------------------ hooks
    def _move_to(self, z_um: float) -> None:
        core, label = self.core, self.label
        self._mover = threading.get_ident()
        try:
            self._call(f"moving to {z_um:g} um", core.setPosition, label, z_um)
            deadline = time.monotonic() + self.timeout_s
            next_sample = 0.0
            while True:
                if self._stop_event.is_set():
                    self._call("stopping", core.stop, label)
                    return
                if not self._call(f"moving to {z_um:g} um", core.deviceBusy, label):
                    break
                now = time.monotonic()
                if now > deadline:
                    raise DeviceTimeout(
                        f"Micro-Manager stage {label} was still busy {self.timeout_s:g} s after the "
                        f"move to {z_um:g} um was sent: check the stage (raise timeout_s for slow "
                        f"stages), then resync"
                    )
                if now >= next_sample:
                    self._record(self._now(), float(self._call("moving", core.getPosition, label)))
                    next_sample = now + SAMPLE_S
                self._stop_event.wait(POLL_S)
        finally:
            self._mover = None

    def _read_position(self) -> float:
        self._call("its motion", self.core.waitForDevice, self.label)
        return float(self._call("reading the position", self.core.getPosition, self.label))

    def _stop(self) -> None:
        # a stop from a signal handler in the moving thread is left to that thread's poll loop
        # (the core may hold the device's lock there); from any other thread stop at once
        if self._mover == threading.get_ident():
            return
        self._call("stopping", self.core.stop, self.label)

    def _close(self) -> None:
        self._release()
