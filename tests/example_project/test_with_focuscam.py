"""Testing your own focus code against recorded z-stacks with focuscam's pytest fixtures.

Run with `pytest`; add `--focuscam-stacks DIR` to repeat the stack tests once per recording
in DIR. No hardware and no conftest.py needed: the fixtures come with focuscam.
"""

import pytest

from focuscam import measure
from focuscam.testing import assert_focused


def best_plane_scan(source, drive, lo_um, hi_um, step_um):
    """The code under test: a plain step scan that returns the sharpest position in um."""
    best_z, best_score = None, -1.0
    z = lo_um
    while z <= hi_um:
        drive.move_to(z)
        frame = source.fresh_frame(after=drive.clock.now())
        score = measure(frame.pixels, "lapv")
        if score > best_score:
            best_z, best_score = z, score
        z += step_um
    return best_z


def test_scan_finds_the_recorded_focus(focuscam_twin):
    source, drive = focuscam_twin
    if focuscam_twin.truth_um is None or focuscam_twin.mode != "max":
        pytest.skip("this scan looks for a sharpness maximum in a stack with a known focus")
    lo, hi = source.z_range_um
    z = best_plane_scan(source, drive, lo, hi, source.spacing_um)
    assert abs(z - focuscam_twin.truth_um) <= focuscam_twin.tolerance_um + source.spacing_um


def test_focuscam_autofocus_lands_on_the_truth(focuscam_twin):
    from focuscam import Autofocus

    if focuscam_twin.truth_um is None:
        pytest.skip("no known focus in this stack")
    source, drive = focuscam_twin
    # the default strategy, planned on the recording's plane spacing
    result = Autofocus(source, drive, mode=focuscam_twin.mode, resolution_um=source.spacing_um).run()
    assert_focused(result, focuscam_twin.stack)


def test_scan_never_leaves_the_limits_and_ends_upwards(focuscam_drive, focuscam_stack):
    from focuscam.testing import twin

    source, drive = twin(focuscam_stack, drive=focuscam_drive)
    best_plane_scan(source, drive, -10, 10, 2.5)
    focuscam_drive.assert_within_limits()
    focuscam_drive.assert_final_approach("up")
    assert focuscam_drive.moves == 9
