"""focuscam.testing and its pytest plugin, as another project's test suite meets them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED_STACKS, _cli_env, shared_stack

from focuscam.errors import InputError, LimitError
from focuscam.testing import Noise, assert_focused, recording_drive, synthetic_stack, twin

EXAMPLE = REPO / "tests" / "example_project" / "test_with_focuscam.py"


def _run_pytest(folder: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run pytest as another project would: its own folder and config, no conftest of ours."""
    (folder / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_cli_env(),
    )


# ---------------------------------------------------------------------- the public API
def test_noise_is_seeded_per_frame(tmp_path):
    stack = synthetic_stack(tmp_path, planes=5)
    a, _ = twin(stack, noise=3.0, seed=7)
    b, _ = twin(stack, noise=3.0, seed=7)
    c, _ = twin(stack, noise=3.0, seed=8)
    clean, _ = twin(stack)
    fa, fb, fc, f0 = a.read(), b.read(), c.read(), clean.read()
    assert np.array_equal(fa.pixels, fb.pixels)
    assert not np.array_equal(fa.pixels, fc.pixels)
    diff = fa.pixels.astype(float) - f0.pixels.astype(float)
    assert 2.0 < diff.std() < 4.0  # read noise of sigma 3 grey levels
    assert fa.pixels.dtype == f0.pixels.dtype


def test_shot_noise_grows_with_the_signal(tmp_path):
    stack = synthetic_stack(tmp_path, planes=5)
    noisy, _ = twin(stack, noise=Noise(read_sigma=0, photons=100.0), seed=1)
    clean, _ = twin(stack)
    f, f0 = noisy.read().pixels.astype(float), clean.read().pixels.astype(float)
    bright, dark = f0 > np.percentile(f0, 80), f0 < np.percentile(f0, 20)
    assert (f - f0)[bright].std() > (f - f0)[dark].std()


def test_drift_moves_the_plane_seen_at_a_fixed_drive_position(tmp_path):
    stack = synthetic_stack(tmp_path, planes=11)
    source, drive = twin(stack, drift_um_s=2.0, start_um=0.0)
    z0 = source.read().z
    drive.clock.sleep(1.0)
    z1 = source.read().z
    assert z1 - z0 == pytest.approx(2.0, abs=0.1)
    assert drive.position == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [{"noise": "loud"}, {"drift_um_s": float("nan")}, {"seed": -1}])
def test_bad_twin_options_are_one_input_error(tmp_path, bad):
    stack = synthetic_stack(tmp_path, planes=5)
    with pytest.raises(InputError):
        twin(stack, **bad)


def test_recording_drive_logs_the_backlash_approach():
    drive = recording_drive(limits=(-100, 100), start_um=50, backlash_um=5)
    drive.move_to(10)  # downwards: overshoot below, then up
    assert drive.targets_um == [pytest.approx(5), pytest.approx(10)]
    assert drive.moves == 2
    drive.assert_within_limits()
    drive.assert_final_approach("up")
    with pytest.raises(AssertionError, match="expected down"):
        drive.assert_final_approach("down")
    times = [c.t for c in drive.log]
    assert times == sorted(times) and times[-1] > 0


def test_a_refused_move_reaches_no_log():
    drive = recording_drive(limits=(-10, 10))
    with pytest.raises(LimitError):
        drive.move_to(11)
    assert drive.log == []


def test_assert_focused_says_truth_tolerance_error_and_state(tmp_path):
    from focuscam.search import SearchResult

    stack = synthetic_stack(tmp_path, planes=5)
    off = SearchResult(z=3.0, state="focused", confidence=1.0, samples=(), peak=None, reason="ok")
    with pytest.raises(AssertionError) as err:
        assert_focused(off, stack)
    text = str(err.value)
    assert "truth 0 +- 1 um" in text and "error +3 um" in text and "focused at 3" in text
    failed = SearchResult(z=0.0, state="failed", confidence=0.0, samples=(), peak=None, reason="flat")
    with pytest.raises(AssertionError, match="state failed, not focused \\(flat\\)"):
        assert_focused(failed, stack)
    good = SearchResult(z=0.4, state="focused", confidence=1.0, samples=(), peak=None, reason="ok")
    assert_focused(good, stack)


def test_assert_focused_reads_plane_results_in_the_stacks_unit(tmp_path):
    from focuscam import select_plane

    stack = synthetic_stack(tmp_path, planes=21)
    assert_focused(select_plane(stack), stack)


# ---------------------------------------------------------------------- the plugin, as a user runs it
def test_the_example_project_passes_with_only_the_public_fixtures(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    proc = _run_pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert re.search(r"\b3 passed\b", proc.stdout), proc.stdout[-2000:]


def test_the_readme_shows_the_example_file_as_it_is():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Testing your own code with recorded stacks", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text()


@pytest.mark.shared
def test_focuscam_stacks_runs_one_test_per_shared_stack(tmp_path):
    shared_stack("fpd_webcam_rep1")
    shutil.copy(EXAMPLE, tmp_path)
    proc = _run_pytest(tmp_path, "-vv", f"--focuscam-stacks={SHARED_STACKS}")  # -q -vv: one line a test
    out = proc.stdout
    names = sorted(p.name for p in SHARED_STACKS.iterdir() if (p / "stack.json").is_file())
    for name in names:
        assert f"test_scan_finds_the_recorded_focus[{name}]" in out, out[-3000:]
        assert f"test_focuscam_autofocus_lands_on_the_truth[{name}]" in out, out[-3000:]
    # stacks with a known focus and a sharpness maximum pass; the others are skipped with a reason
    assert "test_scan_finds_the_recorded_focus[dfnn_mitochondria] PASSED" in out, out[-3000:]
    assert "test_scan_finds_the_recorded_focus[fpd_webcam_rep1] PASSED" in out, out[-3000:]
    assert "test_scan_finds_the_recorded_focus[scorpion_lapse] SKIPPED" in out, out[-3000:]
    for name in names:  # every z-sweep with a known focus: focuscam's autofocus lands on it
        meta = json.loads((SHARED_STACKS / name / "stack.json").read_text())
        if meta.get("truth") and meta.get("kind") == "z-sweep":
            assert f"test_focuscam_autofocus_lands_on_the_truth[{name}] PASSED" in out, out[-3000:]
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]


def test_focuscam_stacks_with_a_wrong_folder_is_one_usage_error(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    proc = _run_pytest(tmp_path, f"--focuscam-stacks={tmp_path / 'nope'}")
    assert proc.returncode == 4
    assert "--focuscam-stacks" in proc.stderr and "not a folder" in proc.stderr


def test_the_plugin_costs_nothing_when_its_fixtures_are_unused(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_nothing_heavy_loaded(request):\n"
        "    assert 'focuscam.testing.plugin' in sys.modules  # the plugin is active\n"
        "    heavy = [m for m in ('numpy', 'cv2', 'numba', 'focuscam.twin', 'focuscam.stacks')\n"
        "             if m in sys.modules]\n"
        "    assert heavy == []\n"
        "    assert 'focuscam_twin' in request.fixturenames or True\n"
    )
    proc = _run_pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    fixtures = _run_pytest(tmp_path, "--fixtures")
    for name in ("focuscam_twin", "focuscam_stack", "focuscam_drive"):
        assert name in fixtures.stdout


@pytest.mark.parametrize("package", ["focuscam", "focuscam.testing"])
def test_dir_lists_the_public_names_only(package):
    import importlib

    mod = importlib.import_module(package)
    names = dir(mod)
    assert set(names) == set(mod.__all__)
    for private in ("Any", "annotations", "importlib", "lazy_api"):
        assert private not in names
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mod.nope  # noqa: B018
