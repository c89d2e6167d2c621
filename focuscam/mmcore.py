"""Micro-Manager cores for focuscam: one :class:`pymmcore_plus.CMMCorePlus` per process.

``mm:PATH/TO/MMConfig.cfg`` (source or drive spec) opens the configuration once, in a
:class:`pymmcore_plus.experimental.unicore.UniMMCore` (a ``CMMCorePlus`` that also runs Python
devices: ``#py pyDevice,...`` lines in the ``.cfg``), and the source and the drive of one
command share that core. ``mm:CFG#Label`` names another device than the core's camera or focus
device. The core is unloaded when the last user releases it.

Micro-Manager's C++ device adapters come from an installation: ``mmcore install`` (the
pymmcore-plus command) or the ``MICROMANAGER_PATH`` environment variable pointing at a
Micro-Manager folder. Configurations made only of Python devices (e.g. focuscam's twin in
:mod:`focuscam.mm_devices`) need no installation.

pymmcore-plus is optional (``pip install 'focuscam[mm]'``) and imported only here, on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._shared import SharedDevices
from .errors import DeviceError, InputError

__all__ = ["acquire_core", "first_line", "is_core", "require_pymmcore_plus", "split_target"]

INSTALL_HINT = "pip install 'focuscam[mm]'"

_cores = SharedDevices()  # one key at most: the configuration's path


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text (device errors are often multi-line)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def require_pymmcore_plus() -> Any:
    """Import and return ``pymmcore_plus``; InputError with the install line when it is missing."""
    try:
        import pymmcore_plus
    except ImportError:
        raise InputError(f"Micro-Manager support needs pymmcore-plus: {INSTALL_HINT}") from None
    return pymmcore_plus


def is_core(obj: Any) -> bool:
    """True when ``obj`` is a ``pymmcore_plus.CMMCorePlus`` (never imports pymmcore-plus)."""
    mod = sys.modules.get("pymmcore_plus")
    return mod is not None and isinstance(obj, mod.CMMCorePlus)


def split_target(target: str, *, what: str) -> tuple[Path, str | None]:
    """Split ``CFG`` or ``CFG#Label`` into the config path and the device label (or None)."""
    text = str(target).strip()
    path, sep, label = text.partition("#")
    if not path:
        raise InputError(f"{what} 'mm:{text}' names no configuration: give mm:PATH/TO/MMConfig.cfg")
    if sep and not label.strip():
        raise InputError(f"{what} 'mm:{text}' has an empty device label after '#': give mm:CFG#Label")
    cfg = Path(path).expanduser()
    if not cfg.is_file():
        raise InputError(
            f"Micro-Manager configuration {cfg} does not exist: give the path of an MMConfig .cfg file"
        )
    return cfg.resolve(), (label.strip() or None) if sep else None


def open_target(target: Any, label: str | None, *, what: str) -> tuple[Any, Callable[[], None], str | None]:
    """The core of a source's or drive's ``target`` (a CMMCorePlus, or ``CFG[#Label]``).

    Returns ``(core, release, label)``: a core given is used as it is (``release`` does
    nothing); ``CFG`` acquires the process's core (see :func:`acquire_core`); the label given
    wins over the one after ``#``.
    """
    if is_core(target):
        return target, lambda: None, label
    if isinstance(target, str):
        cfg, from_spec = split_target(target, what=what)
        core, release = acquire_core(cfg)
        return core, release, label or from_spec
    raise InputError(f"{what} target {target!r} is not a CMMCorePlus or mm:CFG: give one of them")


def acquire_core(cfg: Path) -> tuple[Any, Callable[[], None]]:
    """The process's core for ``cfg`` (loaded on first use) and a ``release()`` for this user.

    Raises
    ------
    InputError
        Another configuration is already open in this process, or pymmcore-plus is missing.
    DeviceError
        The configuration does not load (a device adapter missing, a device that fails).
    """
    require_pymmcore_plus()

    def conflict(other: Any) -> InputError:
        return InputError(
            f"a Micro-Manager core for {other} is already open in this process: use the same "
            f"configuration for the source and the drive (one core per process)"
        )

    return _cores.acquire(cfg, lambda: _load(cfg), _unload, conflict=conflict)


def _unload(core: Any) -> None:
    try:
        core.unloadAllDevices()
    except Exception:  # unloading at exit; the devices are released either way
        pass


def _missing_adapter(core: Any, cfg: Path) -> str:
    """A problem line for the first ``Device`` line whose adapter is neither installed nor a
    Python module, else "" (checked before loading: a failed C++ load followed by the core's
    clean-up can abort the interpreter at exit)."""
    import importlib.util

    try:
        text = cfg.read_text(errors="replace")
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    installed = set(core.getDeviceAdapterNames())
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4 or parts[0] != "Device" or parts[2] in installed:
            continue
        try:
            found = importlib.util.find_spec(parts[2]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"line {number}: device adapter {parts[2]!r} is not installed"
    return ""


def _quiet_core(cls: Any) -> Any:
    """``cls()`` without pymmcore-plus's log line about a missing Micro-Manager installation
    (a configuration of Python devices needs none; a C++ adapter that is missing makes the
    configuration fail to load, and that message says how to install Micro-Manager)."""
    import logging

    log = logging.getLogger("pymmcore-plus")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        return cls()
    finally:
        log.setLevel(level)


#: True once this process has loaded a Micro-Manager core (the command then ends the process
#: past MMCore's native teardown: see ``focuscam._entry``).
LOADED = False


def _load(cfg: Path) -> Any:
    global LOADED
    import gc

    from pymmcore_plus.experimental.unicore import UniMMCore

    from . import mm_devices

    LOADED = True
    # A core that is garbage (a reference cycle: released earlier, or a failed load) must be
    # destroyed here, in this thread: the garbage collector may otherwise run inside a new
    # core's callback thread, and MMCore's destructor aborts the interpreter there.
    gc.collect()
    core = _quiet_core(UniMMCore)
    problem = _missing_adapter(core, cfg)
    try:
        if problem:
            raise RuntimeError(problem)
        with mm_devices.config_dir(cfg.parent):
            core.loadSystemConfiguration(str(cfg))
    except Exception as exc:
        cause = first_line(exc.__cause__) if exc.__cause__ is not None else ""
        problem = first_line(exc) + (f" ({cause})" if cause and cause not in first_line(exc) else "")
    if problem:
        del core  # destroyed now, in this thread (see above), not at the interpreter's exit
        gc.collect()
        raise DeviceError(
            f"Micro-Manager configuration {cfg} does not load: {problem}; check the file, and for "
            f"C++ device adapters install Micro-Manager (mmcore install) or set MICROMANAGER_PATH"
        )
    failed = [
        label
        for label in core.getLoadedDevices()
        if label != "Core" and int(core.getDeviceInitializationState(label)) == 2
    ]
    if failed:
        core.unloadAllDevices()
        raise DeviceError(
            f"Micro-Manager configuration {cfg}: device(s) {', '.join(failed)} failed to initialise: "
            f"check their properties in the file and that the hardware is connected"
        )
    return core
