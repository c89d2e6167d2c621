"""focuscam as the software autofocus of a pymmcore-plus multi-dimensional acquisition (MDA).

:class:`FocuscamEngine` is a :class:`pymmcore_plus.mda.MDAEngine` whose autofocus actions
(the ``HardwareAutofocus`` events a useq-schema ``MDASequence`` with an ``autofocus_plan``
inserts, e.g. ``AxesBasedAF(axes=("p",))`` before every stage position) run focuscam's closed
loop -- :class:`focuscam.autofocus.Autofocus` on the core's camera and focus stage -- instead
of the core's hardware autofocus device (none is needed). The z found is remembered as the
position's correction: later events of that position are acquired at their ``z_pos`` plus that
correction, as the stock engine does after a hardware autofocus. Every frame of a focused
position carries focuscam's result under the metadata key ``"focuscam"``
(``z_um``, ``state``, ``confidence``, ``measure``, ``strategy``, ``correction_um``).

Example::

    import useq
    from focuscam.mda import FocuscamEngine

    core.mda.set_engine(FocuscamEngine(core, limits=(-50, 50), backlash_um=5))
    seq = useq.MDASequence(
        stage_positions=[useq.Position(z=0), useq.Position(z=10)],
        autofocus_plan=useq.AxesBasedAF(autofocus_device_name="Z", axes=("p",)),
    )
    core.mda.run(seq)

The plan's ``autofocus_device_name`` and ``autofocus_motor_offset`` are not used (focuscam
moves the core's focus device, or ``stage``). A run that does not focus leaves the stage where
it was before, logs a warning and gives no correction (``state`` ``"failed"`` in the metadata).
Corrections apply to events set up one by one (hardware sequencing is off by default here).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pymmcore_plus.mda import MDAEngine
from useq import HardwareAutofocus, MDAEvent

from .autofocus import Autofocus, AutofocusResult
from .drives.mmcore import MMCoreDrive
from .sources.mmcore import MMCoreSource

__all__ = ["FocuscamEngine"]

log = logging.getLogger("focuscam")


class FocuscamEngine(MDAEngine):
    """An MDA engine whose autofocus actions run :class:`~focuscam.autofocus.Autofocus`.

    Parameters
    ----------
    mmc : CMMCorePlus
        The core (its camera and focus device are used).
    limits : (float, float)
        Soft limits of the focus stage in um (required; nothing outside is ever sent).
    search_um : float, optional
        Search ``z - search_um .. z + search_um`` around the z at the autofocus event
        (inside the limits); default the whole range the limits allow.
    stage : str, optional
        Focus stage label (default the core's focus device).
    backlash_um : float
        Backlash compensation of the stage in um.
    use_hardware_sequencing : bool
        Passed to MDAEngine (default False here, so per-position corrections always apply).
    **autofocus_options
        More keyword arguments for :class:`~focuscam.autofocus.Autofocus` (``strategy``,
        ``measure``, ``roi``, ``mode``, ...).

    Attributes
    ----------
    results : dict
        ``{position index: AutofocusResult}`` of the current sequence.
    """

    def __init__(
        self,
        mmc: Any,
        *,
        limits: tuple[float, float],
        search_um: float | None = None,
        stage: str | None = None,
        backlash_um: float = 0.0,
        use_hardware_sequencing: bool = False,
        **autofocus_options: Any,
    ) -> None:
        super().__init__(mmc, use_hardware_sequencing=use_hardware_sequencing)
        # open (and close) once now, so that bad limits or labels fail before any acquisition
        MMCoreDrive(mmc, limits=limits, stage=stage, backlash_um=backlash_um).close()
        self.limits = limits
        self.search_um = search_um
        self.stage = stage
        self.backlash_um = backlash_um
        self.autofocus_options = autofocus_options
        self.results: dict[int | None, AutofocusResult] = {}
        self._offsets: dict[int | None, float] = {}

    def setup_sequence(self, sequence: Any) -> Any:
        """Forget the corrections of an earlier sequence, then set up as MDAEngine does."""
        self.results.clear()
        self._offsets.clear()
        return super().setup_sequence(sequence)

    def setup_single_event(self, event: MDAEvent) -> None:
        """Set up the hardware for ``event``, its z shifted by its position's correction."""
        offset = self._offsets.get(event.index.get("p"))
        if offset and event.z_pos is not None and not isinstance(event.action, HardwareAutofocus):
            event = event.model_copy(update={"z_pos": event.z_pos + offset})
        super().setup_single_event(event)

    def exec_event(self, event: MDAEvent) -> Iterable[Any]:
        """Run focuscam's autofocus for an autofocus action; anything else as MDAEngine does."""
        if isinstance(event.action, HardwareAutofocus):
            self.focus(event)
            return
        yield from super().exec_event(event)

    def focus(self, event: MDAEvent) -> AutofocusResult:
        """Run one closed-loop autofocus for ``event``'s position; store its result and correction."""
        core = self.mmcore
        p = event.index.get("p")
        drive = MMCoreDrive(core, limits=self.limits, stage=self.stage, backlash_um=self.backlash_um)
        source = MMCoreSource(core)
        try:
            before = drive.position
            options = dict(self.autofocus_options)
            if self.search_um is not None:
                lim = drive.limits
                lo = max(lim.lo + self.backlash_um, before - self.search_um)
                hi = min(lim.hi, before + self.search_um)
                options.setdefault("range_um", (lo, hi))
            result = Autofocus(source, drive, **options).run()
            if result.focused and result.z is not None:
                nominal = event.z_pos if event.z_pos is not None else before
                self._offsets[p] = result.z - nominal
            else:
                log.warning("focuscam autofocus at position %s failed: %s", p, result.reason)
                if drive.limits.contains(before):
                    drive.move_to(before)
        finally:
            source.close()
            drive.close()
        self.results[p] = result
        return result

    def get_frame_metadata(self, event: MDAEvent, *args: Any, **kwargs: Any) -> Any:
        """The frame metadata of MDAEngine, plus ``"focuscam"``: the position's autofocus result."""
        meta = super().get_frame_metadata(event, *args, **kwargs)
        p = event.index.get("p")
        result = self.results.get(p)
        if result is not None:
            meta["focuscam"] = {
                "z_um": result.z,
                "state": result.state,
                "confidence": float(result.confidence),
                "measure": result.measure,
                "strategy": result.strategy,
                "correction_um": self._offsets.get(p, 0.0),
            }
        return meta
