"""``open_drive(spec, **settings)``: one entry point for every focus drive.

Specs (PORT is anything ``serial.serial_for_url`` accepts: ``/dev/ttyUSB0``, ``/dev/pts/3``,
``socket://host:port``, ``loop://``):

- ``sim`` -- :class:`~focuscam.drives.sim.SimulatedDrive`
- ``grbl:PORT`` -- :class:`~focuscam.drives.grbl.GrblDrive` (GRBL 1.1, Z axis)
- ``sangaboard:PORT`` -- :class:`~focuscam.drives.sangaboard.SangaboardDrive`
- ``uvc:CAMERA`` -- :class:`~focuscam.drives.uvc.UvcFocusDrive` (CAMERA = index or device path)
- ``focuscam:PORT`` -- :class:`~focuscam.drives.firmware.FirmwareDrive` (focuscam's own firmware)
- ``mm:CFG`` or ``mm:CFG#Label`` -- :class:`~focuscam.drives.mmcore.MMCoreDrive` (a Micro-Manager
  focus stage; ``open_drive(core, limits=...)`` also takes a ``pymmcore_plus.CMMCorePlus``)
- ``picamera-lens:N`` -- :class:`~focuscam.drives.picamera_lens.PicameraLensDrive` (Pi camera lens)

Settings (``limits``, ``backlash_um``, ``steps_per_um``, ``speed_um_s``, ``settle_s``,
``timeout_s``, ``allow_unlock``, ...) are passed on as keyword arguments; each driver documents
the ones it takes. Driver modules are imported only when their scheme is used.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..errors import InputError
from ._serial import check_port
from .base import FocusDrive

__all__ = ["DRIVES", "SPEC_FORMS", "driver_settings", "open_drive", "parse_spec"]

#: scheme -> (module, class name, takes a target after the colon)
DRIVES: dict[str, tuple[str, str, bool]] = {
    "sim": ("focuscam.drives.sim", "SimulatedDrive", False),
    "grbl": ("focuscam.drives.grbl", "GrblDrive", True),
    "sangaboard": ("focuscam.drives.sangaboard", "SangaboardDrive", True),
    "uvc": ("focuscam.drives.uvc", "UvcFocusDrive", True),
    "focuscam": ("focuscam.drives.firmware", "FirmwareDrive", True),
    "mm": ("focuscam.drives.mmcore", "MMCoreDrive", True),
    "picamera-lens": ("focuscam.drives.picamera_lens", "PicameraLensDrive", True),
}

SPEC_FORMS = "sim, grbl:PORT, sangaboard:PORT, uvc:CAMERA, focuscam:PORT, mm:CFG[#Label], picamera-lens:N"


#: scheme -> (what follows the colon, an example) for the schemes that are not serial ports
_TARGETS = {"uvc": ("CAMERA", "0"), "mm": ("CFG", "MMConfig.cfg"), "picamera-lens": ("CAMERA", "0")}
#: Schemes whose target is a serial PORT (checked by :func:`~focuscam.drives._serial.check_port`).
SERIAL_SCHEMES = ("grbl", "sangaboard", "focuscam")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a drive spec into ``(scheme, target)``; raises InputError for unknown forms."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"drive spec {spec!r} is empty: give one of {SPEC_FORMS}")
    scheme, sep, target = spec.strip().partition(":")
    scheme = scheme.lower()
    if scheme not in DRIVES:
        raise InputError(f"drive spec {spec!r} is not known: give one of {SPEC_FORMS}")
    needs_target = DRIVES[scheme][2]
    if needs_target and not target:
        what, example = _TARGETS.get(scheme, ("PORT", "/dev/ttyUSB0"))
        raise InputError(f"drive spec {spec!r} lacks its {what}: give e.g. {scheme}:{example}")
    if not needs_target and sep and target:
        raise InputError(f"drive spec {spec!r}: '{scheme}' takes nothing after it; give just '{scheme}'")
    if scheme in SERIAL_SCHEMES:
        check_port(target)  # only device paths and the allowed URL handlers (no spy://...)
    return scheme, target


def open_drive(spec: str, **settings: Any) -> FocusDrive:
    """Open the focus drive named by ``spec`` with driver ``settings``; positions in um.

    Parameters
    ----------
    spec : str
        ``sim``, ``grbl:PORT``, ``sangaboard:PORT``, ``uvc:CAMERA`` or ``focuscam:PORT``.
    **settings
        Keyword settings of the driver (``limits`` in um, ``backlash_um``, ...).

    Raises
    ------
    InputError
        Unknown spec or a setting the driver does not take.
    DeviceError
        The device could not be opened or did not answer as expected.
    """
    from ..mmcore import is_core

    if is_core(spec):  # a pymmcore_plus.CMMCorePlus: its focus device
        cls = _driver_class("mm")
        _check_settings(cls, "mm", settings)
        return cls(spec, **settings)
    scheme, target = parse_spec(spec)
    needs_target = DRIVES[scheme][2]
    cls = _driver_class(scheme)
    _check_settings(cls, scheme, settings)
    drive = cls(target, **settings) if needs_target else cls(**settings)
    drive.spec = spec
    return drive


def driver_settings(scheme: str) -> set[str]:
    """The keyword settings the driver of ``scheme`` accepts (imports the driver module)."""
    cls = _driver_class(scheme)
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _driver_class(scheme: str) -> type:
    module_name, class_name, _ = DRIVES[scheme]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise InputError(
            f"the {scheme} drive is not available in this installation ({module_name} is missing): "
            f"use one of {SPEC_FORMS}"
        ) from None
    return getattr(module, class_name)


def _check_settings(cls: type, scheme: str, settings: dict[str, Any]) -> None:
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = sorted(n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise InputError(
            f"the {scheme} drive does not take setting(s) {', '.join(unknown)}: "
            f"it takes {', '.join(allowed) or 'none'}"
        )
