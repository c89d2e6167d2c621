"""Defect 10: the window shows each stack's own z unit (a stack in mm reads in mm, no 1e+05 ticks)."""

from __future__ import annotations

import pytest
from conftest import shared_stack

from focuscam.autofocus import Autofocus
from focuscam.twin import make_twin
from focuscam.ui.render import curve_in_unit, render_view, status_lines
from focuscam.ui.state import UiState


@pytest.mark.shared
def test_the_window_of_a_stack_in_mm_shows_mm():
    path = shared_stack("fpd_webcam_rep1")  # z from -110 to 20 mm
    src, drive = make_twin(path)
    af = Autofocus(src, drive, resolution_um=src.spacing_um)
    state = UiState(None, z_unit=af.z_unit)  # type: ignore[arg-type]  # as autofocus_window builds it
    af.on_event = state.on_autofocus_event
    result = af.run()
    assert result.focused
    view = state.view()
    zs, peak, unit = curve_in_unit(view)
    assert unit == "mm"
    assert all(-110.0 <= z <= 20.0 for z in zs)  # mm, not um (-110000 .. 20000)
    assert peak is not None and peak.z == pytest.approx(result.z / 1000)
    z_line = next(line for line in status_lines(view) if line.startswith("z "))
    assert z_line.endswith(" mm") and "e+" not in z_line
    render_view(view)  # the curve is drawn with these values and the mm axis label
    src.close()
