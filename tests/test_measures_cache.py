"""numba caching: a second process loads every kernel from the cache and compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json
import numpy as np
from numba.core.registry import CPUDispatcher
from focuscam.measures import MEASURES, focus_map, measure
from focuscam.measures import _kernels, _kernels_freq, _kernels_grad, _kernels_lap, _kernels_stat

for dt in (np.uint8, np.uint16, np.float32):
    for shape in ((12, 13), (12, 13, 3)):
        frame = np.arange(np.prod(shape)).reshape(shape).astype(dt)
        for name in MEASURES:
            measure(frame, name)
            measure(frame, name, bin=2)
            focus_map(frame, name, grid=(2, 2))
dispatchers = {
    f"{m.__name__}.{n}": f
    for m in (_kernels, _kernels_lap, _kernels_grad, _kernels_stat, _kernels_freq)
    for n, f in vars(m).items()
    if isinstance(f, CPUDispatcher)
}
print(json.dumps({
    "misses": {n: sum(f.stats.cache_misses.values()) for n, f in dispatchers.items()},
    "hits": {n: sum(f.stats.cache_hits.values()) for n, f in dispatchers.items()},
}))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _files(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path)
    assert sum(first["misses"].values()) > 0  # the first process really compiled (empty cache)
    files = _files(tmp_path)
    assert any(name.endswith(".nbc") for name in files)
    second = _run(tmp_path)
    assert sum(second["misses"].values()) == 0, second["misses"]
    assert sum(second["hits"].values()) > 0
    assert _files(tmp_path) == files  # nothing written or rewritten


@pytest.mark.slow
def test_second_focuscam_select_process_does_not_recompile(tmp_path):
    """The issue's wording: a second `focuscam select` process must not recompile."""
    from conftest import REPO

    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "focuscam", "select", str(REPO / "recordings" / "target_color"), "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert first.returncode in (0, 1), first.stderr
    files = _files(cache)
    assert any(name.endswith(".nbc") for name in files)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert second.returncode == first.returncode, second.stderr
    assert json.loads(second.stdout)["scores"] == json.loads(first.stdout)["scores"]
    assert _files(cache) == files  # nothing compiled, so nothing written


QUICK = r"""
import json, sys
import numpy as np
from focuscam.measures import measure
from focuscam.measures._compile import _quick_class
from focuscam.measures import _kernels_lap

frame = (np.arange(20 * 30 * 3) % 251).reshape(20, 30, 3).astype(np.uint8)
score = measure(frame, "lapv")
# numba's target refresh imports these lowering modules; a cached kernel's load needs none
refreshed = "numba.np.polynomial.polynomial_functions" in sys.modules
kinds = sorted({type(f._cache).__name__ for f in _kernels_lap.KERNELS.values()})

from numba import njit

@njit
def later(a):  # a compile after the quick load: the compiler refreshes the target itself
    return np.sqrt(np.sum(a * a)) + np.polynomial.polynomial.polyval(1.0, np.array([1.0, 2.0]))

print(json.dumps({"score": score, "refreshed": refreshed, "kinds": kinds,
                  "later": later(np.array([3.0, 4.0])), "quick": _quick_class() is not None}))
"""


def test_cached_kernel_loads_without_target_refresh(tmp_path):
    """A warm process loads a cached kernel without numba's whole-target refresh (its start-up
    cost), scores the same, and compiling something new afterwards still works."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run():
        proc = subprocess.run(
            [sys.executable, "-c", QUICK], capture_output=True, text=True, env=env, timeout=900
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    cold, warm = run(), run()
    assert warm["quick"] and warm["kinds"] == ["QuickLoadCache"]
    assert cold["refreshed"]  # the first process compiled: the compiler refreshed
    assert not warm["refreshed"]
    assert warm["score"] == cold["score"]
    assert warm["later"] == cold["later"] == 8.0  # 5 + (1 + 2)
