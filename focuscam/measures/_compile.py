"""No silent compiles: a progress line on a terminal whenever numba compiles a kernel.

A kernel is compiled the first time it meets a new type (a new dtype, channel count or measure)
and its machine code is then kept in numba's on-disk cache (``cache=True``), so later processes
only load it. The compile itself takes seconds; :func:`install_notice` makes it visible: numba
emits a ``numba:compile`` event only on a cache miss, and the listener prints one line per
outermost compile on stderr when stderr is a terminal (never into pipes, logs or JSON).
:func:`warmup` compiles every kernel ahead (``focuscam warmup``).

:func:`quick_cache_load` makes loading a cached kernel cheap: numba refreshes its whole CPU
target (imports some 70 modules of lowering and typing registries, builds the NRT runtime)
before it loads any overload from its cache, which cost a short command such as
``focuscam select`` 0.15-0.25 s of CPU although a cached kernel needs none of it. The
compiler still refreshes before it compiles anything (``CompilerBase.__init__``), and lowering
refreshes on a lookup it misses, so only that needless first refresh is skipped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

__all__ = ["install_notice", "quick_cache_load", "warmup", "warmup_cases"]

_installed = False


def _describe(data: dict) -> str:
    dispatcher = data.get("dispatcher")
    name = getattr(getattr(dispatcher, "py_func", None), "__name__", "kernel")
    arrays = [str(getattr(a, "dtype", "")) for a in data.get("args", ()) if hasattr(a, "ndim")]
    dtype = arrays[0] if arrays else ""
    return f"{name}({dtype})" if dtype else name


def install_notice(stream=None) -> None:
    """Register the compile listener once per process (idempotent)."""
    global _installed
    if _installed:
        return
    from numba.core import event

    class _Notice(event.Listener):
        def __init__(self) -> None:
            self.depth = 0
            self.t0 = 0.0

        def _out(self):
            return sys.stderr if stream is None else stream

        def _tty(self) -> bool:
            out = self._out()
            try:
                return bool(out.isatty())
            except (AttributeError, ValueError):
                return False

        def on_start(self, ev) -> None:
            self.depth += 1
            if self.depth == 1 and self._tty():
                self.t0 = time.monotonic()
                out = self._out()
                out.write(
                    "\r\x1b[K"  # clear a progress bar drawn on the same line
                    f"focuscam: compiling numba kernel {_describe(ev.data)} for its first use "
                    "(cached afterwards; `focuscam warmup` compiles all ahead) ..."
                )
                out.flush()

        def on_end(self, ev) -> None:
            self.depth -= 1
            if self.depth == 0 and self._tty():
                out = self._out()
                out.write(f" {time.monotonic() - self.t0:.1f} s\n")
                out.flush()

    event.register("numba:compile", _Notice())
    _installed = True


_quick_cache_class: type | None = None


def _quick_class() -> type | None:
    """numba's ``FunctionCache`` less the target refresh in ``load_overload`` (None when this
    numba's cache does not have the internals this relies on: then nothing changes)."""
    global _quick_cache_class
    if _quick_cache_class is None:
        try:
            from numba.core.caching import FunctionCache
            from numba.core.runtime import rtsys
        except ImportError:  # pragma: no cover - another numba layout
            return None
        needed = ("_load_overload", "_guard_against_spurious_io_errors")
        if not all(hasattr(FunctionCache, name) for name in needed):
            return None  # pragma: no cover - another numba layout

        class QuickLoadCache(FunctionCache):
            def load_overload(self, sig, target_context):
                # what the kernels need of the refresh: the NRT runtime (arguments are unboxed
                # through it); the compiler refreshes the rest before any compile
                rtsys.initialize(target_context)
                with self._guard_against_spurious_io_errors():
                    return self._load_overload(sig, target_context)

        _quick_cache_class = QuickLoadCache
    return _quick_cache_class


def quick_cache_load(namespace: dict) -> None:
    """Let every numba kernel (``cache=True``) in ``namespace`` (a module's ``globals()``) load
    from numba's cache without the target refresh (see the module docstring)."""
    cls = _quick_class()
    if cls is None:  # pragma: no cover
        return
    base = cls.__mro__[1]
    for value in list(namespace.values()):
        cache = getattr(value, "_cache", None)
        if type(cache) is base:
            cache.__class__ = cls


def warmup_cases() -> list[tuple[str, str, int, int]]:
    """Every (measure, dtype, channels, bin) the public API can meet, plus the blur verdict."""
    from . import MEASURES

    cases = []
    for dtype in ("uint8", "uint16", "float32"):
        for channels in (1, 3):
            for name in MEASURES:
                for k in (1, 2):
                    cases.append((name, dtype, channels, k))
            cases.append(("blur", dtype, channels, 1))
    return cases


def warmup(progress: Callable[[int, int, str], None] | None = None) -> int:
    """Compile (or load from the cache) every kernel; returns the number of cases run.

    ``progress(done, total, label)`` is called before each case.
    """
    import numpy as np

    from . import blur_report, focus_map, measure

    cases = warmup_cases()
    for i, (name, dtype, channels, k) in enumerate(cases):
        if progress is not None:
            progress(i, len(cases), f"{name} {dtype} {'BGR' if channels == 3 else 'gray'} bin {k}")
        shape = (32, 32, 3) if channels == 3 else (32, 32)
        frame = np.full(shape, 7, dtype)
        frame[::2, ::3] = 3
        if name == "blur":
            blur_report(frame)
        else:
            measure(frame, name, bin=k)
            if k == 1:
                focus_map(frame, name, grid=(2, 2))
    if progress is not None:
        progress(len(cases), len(cases), "done")
    return len(cases)
