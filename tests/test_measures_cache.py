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
