"""The focus-curve plot: what is drawn is told apart (colours, legend), the model, z precision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from focuscam.plot import _MODEL, _PEAK_OK, _TRUTH, format_z, render_curve, z_decimals


def _has(img: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(img == np.array(colour, np.uint8), axis=-1).sum())


Z = np.linspace(-5, 5, 21)
S = np.exp(-0.5 * (Z / 1.5) ** 2) + 0.1


def test_truth_band_peak_and_model_have_distinct_colours():
    colours = {_TRUTH, _PEAK_OK, _MODEL}
    assert len(colours) == 3


def test_the_model_is_drawn_only_when_given():
    plain = render_curve(Z, S, z_unit="um", peak=0.0)
    with_model = render_curve(Z, S, z_unit="um", peak=0.0, model=lambda z: math.exp(-0.5 * (z / 1.5) ** 2))
    assert _has(plain, _MODEL) == 0
    assert _has(with_model, _MODEL) > 100
    pairs = render_curve(Z, S, z_unit="um", model=(Z, S))
    assert _has(pairs, _MODEL) > 100


def test_the_legend_shows_the_truth_swatch_beside_the_band():
    img = render_curve(Z, S, z_unit="um", peak=0.0, truth={"z": 3.0, "tolerance": 0.5})
    # the band itself (around z=3) and the legend swatch (top left of the plot box)
    cols = np.where(np.all(img == np.array(_TRUTH, np.uint8), axis=-1))[1]
    assert cols.min() < 150 < 500 < cols.max()


def test_model_of_the_wrong_shape_is_one_input_error():
    from focuscam.errors import InputError

    with pytest.raises(InputError, match="one score per z"):
        render_curve(Z, S, z_unit="um", model=(Z, S[:-1]))


@pytest.mark.parametrize(
    ("spacing", "decimals"), [(1000.0, 0), (1.5, 1), (1.0, 1), (0.3, 2), (0.05, 3), (1e-9, 6)]
)
def test_z_is_printed_to_a_tenth_of_the_spacing(spacing, decimals):
    assert z_decimals(spacing) == decimals


def test_format_z_drops_negative_zero_and_index_units():
    assert format_z(-0.0452474, 1.0, "um") == "0.0 um"
    assert format_z(-2.04, 1.5, "um") == "-2.0 um"
    assert format_z(12.0, 1.0, "index") == "12.0"
