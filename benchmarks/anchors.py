"""Reference ports of three anchor autofocus algorithms, and the one-command comparison table.

    python benchmarks/anchors.py [STACK ...] [--starts N] [--json]

runs every focuscam strategy and the three anchor ports below through the SAME harness
(:func:`focuscam.evaluate.evaluate_stack`: the autofocus controller in closed loop on the
digital twin of each stack, same starts, same measure) and prints one Markdown table. Default
stacks: the shared stacks with a truth (../shared/stacks) and the bundled recordings.

The ports are written from the public descriptions summarised in ../shared/notes/anchors.md
(no code copied). None of the three has a significance test: they report the position they
find as focused (libcamera's "Failed" needs the final contrast below 0.75 of the maximum, which
the controller's verification covers). In brightfield mode each port maximises the negated
measure (the focal plane is the contrast minimum; -glvn, as 1/glvn for libcamera).

- ``anchor-libcamera`` (Raspberry Pi libcamera contrast AF): coarse scan from the range end
  nearest the lens in steps of 1/12 of the range, stopping once the contrast falls below 0.75
  of the best so far; fine scan of at most 5 steps of a quarter coarse step around the coarse
  peak (stopping at the same 0.75 drop); 3-point parabolic peak interpolation.
- ``anchor-oughtafocus`` (Micro-Manager OughtaFocus): Brent's optimiser over the search range
  with an absolute tolerance of one plane (the range is the whole stack: Micro-Manager's
  ``[z - R/2, z + R/2]`` with R twice the stack, clipped to the limits).
- ``anchor-openflexure`` (OpenFlexure fast autofocus): one continuous sweep over the range
  while frames stream, each frame's z interpolated from the stage's time/position record; the
  answer is the argmax (the twin has no backlash, so the final down-and-up approach is the
  controller's plain move).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from focuscam.search.base import SearchResult, SearchStrategy, register_strategy
from focuscam.search.brent import brent_max
from focuscam.search.continuous import Continuous
from focuscam.types import FocusState

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "stacks"
DEFAULT_STACKS = [
    SHARED / "fpd_webcam_rep1",
    SHARED / "dfnn_mitochondria",
    SHARED / "maars_bf_yeast",
    SHARED / "udaf_metal_iy000",
    ROOT / "recordings" / "target_color",
    ROOT / "recordings" / "cells_gray16",
]
ANCHORS = ("anchor-libcamera", "anchor-oughtafocus", "anchor-openflexure")


class _Anchor(SearchStrategy):
    """An anchor port: maximises ``sign * score``; its answer is reported without a test."""

    def _signed(self, z: float) -> float:
        known = self._score_at(z)
        s = known if known is not None else self._last_score()
        return s if self.mode == "max" else -s

    def _answer(self) -> float:
        raise NotImplementedError

    def _search(self) -> Iterator[float]:
        self._passes = 1
        yield from self._pass(*self.window)

    def _finish(self) -> SearchResult:
        if not self._z:
            return SearchResult(None, FocusState.FAILED, 0.0, (), None, "no sample", self.name)
        z = min(max(float(self._answer()), self.lo), self.hi)
        return SearchResult(
            z,
            FocusState.FOCUSED,
            1.0,
            tuple(self.samples),
            None,
            "anchor port: no significance test",
            self.name,
        )

    def _best_sample(self) -> float:
        z, s = self._curve()
        return float(z[int(np.argmax(s if self.mode == "max" else -s))])


@register_strategy
class LibcameraContrastAF(_Anchor):
    """libcamera's contrast-detect AF: coarse 1/12 steps with a 0.75 early stop, fine <= 5 steps."""

    name = "anchor-libcamera"

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        coarse = (whi - wlo) / 12.0
        near = self.start
        direction = 1.0 if abs(near - wlo) <= abs(near - whi) else -1.0
        z = wlo if direction > 0 else whi
        best_z, best = z, -np.inf
        while wlo - 1e-9 <= z <= whi + 1e-9:
            if self._score_at(z) is None:
                yield z
            s = self._signed(z)
            if s > best:
                best_z, best = z, s
            elif s < 0.75 * best if best > 0 else s < best - 0.25 * abs(best):
                break
            z += direction * coarse
        fine = coarse / 4.0
        self._fine_peak = best_z
        for k in (-2, -1, 1, 2):
            zf = best_z + k * fine
            if not wlo <= zf <= whi:
                continue
            if self._score_at(zf) is None:
                yield zf
        zs, ss = self._curve()
        ss = ss if self.mode == "max" else -ss
        i = int(np.argmax(ss))
        self._fine_peak = float(zs[i])
        if 0 < i < zs.size - 1:
            x, y = zs[i - 1 : i + 2], ss[i - 1 : i + 2]
            a, b, _ = np.polyfit(x - x[1], y, 2)
            if a < 0:
                v = x[1] - b / (2 * a)
                if x[0] <= v <= x[2]:
                    self._fine_peak = float(v)

    def _answer(self) -> float:
        return self._fine_peak


@register_strategy
class OughtaFocus(_Anchor):
    """Micro-Manager OughtaFocus: Brent's optimiser over the range, tolerance one plane."""

    name = "anchor-oughtafocus"

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        self._x = 0.5 * (wlo + whi)
        best = -np.inf
        for z in brent_max(wlo, whi, self.resolution, self._signed):
            if self._score_at(z) is None:
                yield z
            if self._signed(z) > best:
                best, self._x = self._signed(z), z

    def _answer(self) -> float:
        return self._x


@register_strategy
class OpenFlexureFastAF(_Anchor, Continuous):
    """OpenFlexure fast AF: one continuous sweep, argmax of the time-interpolated z."""

    name = "anchor-openflexure"

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        yield from Continuous._pass(self, wlo, whi)

    def _answer(self) -> float:
        return self._best_sample()


def main(argv: list[str] | None = None) -> int:
    """Evaluate every strategy and anchor port on the stacks; print one table."""
    from focuscam.evaluate import BASELINE, evaluate, format_table
    from focuscam.search import STRATEGIES
    from focuscam.stacks import load_stack

    parser = argparse.ArgumentParser(description="every focuscam strategy beside the anchor ports")
    parser.add_argument(
        "stacks", nargs="*", help="z-sweep stacks with a truth (default: shared + recordings)"
    )
    parser.add_argument("--starts", type=int, default=8, help="start positions per stack (default 8)")
    parser.add_argument("--strategy", action="append", help="only these strategies (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.stacks] or [p for p in DEFAULT_STACKS if p.exists()]
    names = args.strategy or [n for n in STRATEGIES if n not in ANCHORS] + list(ANCHORS)
    rows = []
    for row in evaluate([load_stack(p) for p in paths], [*names, BASELINE], starts=args.starts):
        rows.append(row)
        if args.json:
            print(json.dumps(row.to_dict(), allow_nan=False), flush=True)
    if not args.json:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
