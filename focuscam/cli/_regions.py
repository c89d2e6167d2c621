"""``--grid RxC`` for ``select`` and ``autofocus``: the best plane per region and the tilt.

The logic is :mod:`focuscam.regions`; this module holds the CLI glue: the two flags, the focus
maps of a stack's frames (``select``) or of the frames the controller scored (``autofocus``,
through :class:`RegionTap`, which watches the source and the controller's ``"sample"`` events
and leaves the controller untouched), and the text lines.
"""

from __future__ import annotations

import argparse
from collections import OrderedDict
from typing import Any

from ._args import PIXEL_UM, grid_type

#: Frames a :class:`RegionTap` keeps while waiting for their ``"sample"`` event.
KEEP_FRAMES = 256


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """``--grid RxC`` and ``--pixel-um UM``."""
    parser.add_argument(
        "--grid",
        type=grid_type,
        metavar="RxC",
        help="also find the best plane of every region of an RxC grid (1..64 each) over the ROI and fit the "
        "focal plane through them (tilt; JSON keys regions, tilt), for slanted samples",
    )
    parser.add_argument(
        "--pixel-um",
        type=PIXEL_UM,
        metavar="UM",
        help=f"pixel size at the sample ({PIXEL_UM.bounds}): tilt in um per um (default: per pixel)",
    )


def stack_regions(stack: Any, result: Any, args: argparse.Namespace) -> Any:
    """Regions of a ``select`` run: focus maps of every frame with the measure, ROI and bin used."""
    import numpy as np

    from ..measures import focus_map
    from ..regions import fit_regions

    maps = [focus_map(img, result.measure, args.grid, result.roi, result.bin) for img in stack.images()]
    z = stack.z if result.z_unit == stack.z_unit else np.arange(len(stack), dtype=float)
    return fit_regions(
        z,
        maps,
        _box(stack.image(0), result.roi),
        mode=result.mode,
        z_unit=result.z_unit,
        pixel_um=args.pixel_um,
    )


def _box(frame: Any, roi: Any) -> tuple[int, int, int, int]:
    if roi is not None:
        return tuple(int(v) for v in roi)  # type: ignore[return-value]
    return 0, 0, int(frame.shape[1]), int(frame.shape[0])


class _TappedSource:
    """A frame source that hands every frame it returns to ``keep`` (everything else delegated)."""

    TAPPED = ("read", "fresh_frame", "frames_between")

    def __init__(self, source: Any, keep: Any) -> None:
        self._source = source
        self._keep = keep

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._source, name)
        if name not in self.TAPPED:
            return attr

        def tapped(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            for frame in out if isinstance(out, list) else [out]:
                self._keep(frame)
            return out

        return tapped


class RegionTap:
    """Collect the focus map of every frame an :class:`~focuscam.autofocus.Autofocus` scores.

    Use :meth:`source` as the controller's source and :meth:`on_event` as (or inside) its
    ``on_event``; set :attr:`measure` to the controller's measure before it runs.
    """

    def __init__(self, source: Any, grid: tuple[int, int], roi: Any) -> None:
        self.grid = grid
        self.roi = roi
        self.measure = "lapv"
        self.z_um: list[float] = []
        self.maps: list[Any] = []
        self._frames: OrderedDict[int, Any] = OrderedDict()
        self._first: Any = None
        self.source = _TappedSource(source, self._keep)

    def _keep(self, frame: Any) -> None:
        self._frames[frame.seq] = frame.pixels
        while len(self._frames) > KEEP_FRAMES:
            self._frames.popitem(last=False)

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """On a ``"sample"`` (not from the lock): the focus map of that frame, at its z."""
        if kind != "sample" or data.get("lock"):
            return
        pixels = self._frames.get(data.get("seq"))
        if pixels is None:
            return
        from ..measures import focus_map

        self._first = pixels if self._first is None else self._first
        self.maps.append(focus_map(pixels, self.measure, self.grid, self.roi, "auto"))
        self.z_um.append(float(data["z_um"]))

    def result(self, mode: str, pixel_um: float | None) -> Any:
        """The :class:`~focuscam.regions.RegionsResult` of the samples seen (None: none seen)."""
        from ..regions import fit_regions

        if not self.maps:
            return None
        box = _box(self._first, self.roi)
        return fit_regions(self.z_um, self.maps, box, mode=mode, z_unit="um", pixel_um=pixel_um)


def print_regions(res: Any, label: str = "regions:") -> None:
    """The per-region best z as a grid (``--`` where a region did not focus) and the tilt line."""
    if res is None:
        print(f"{label} no samples were scored")
        return
    rows, cols = res.grid
    cells = [f"{g.z:.5g}" if g.state == "focused" else "--" for g in res.regions]
    width = max(len(c) for c in cells)
    focused = sum(g.state == "focused" for g in res.regions)
    print(f"{label} best z per region ({res.z_unit}), {rows}x{cols}, {focused} focused:")
    for r in range(rows):
        print("         " + "  ".join(c.rjust(width) for c in cells[r * cols : (r + 1) * cols]))
    print(f"tilt:    {res.note}")
