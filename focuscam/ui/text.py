"""Text that fits: the one rule for every message and label the live window draws.

OpenCV's Hershey font is measured with ``cv2.getTextSize``; :func:`fit_text` wraps at spaces,
shortens paths (leading folders become ``...``, the file name stays) when wrapping alone needs
too many lines, and ends what still does not fit with ``...``. :func:`put_lines` draws it.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from ..errors import InputError

__all__ = ["FONT", "TEXT", "fit_text", "put_lines", "text_width"]

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: The default text colour (BGR).
TEXT = (235, 235, 235)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[~.]{0,2}/)?(?:[^\s/]+/)+[^\s/]*")


def text_width(text: str, scale: float) -> int:
    """Width in pixels of ``text`` in the window's font at ``scale``."""
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _shorten_path(path: str, width_px: int, scale: float) -> str:
    """A path cut to fit: drop leading folders (``.../name``), then the file name's middle."""
    parts = path.split("/")
    name = parts[-1] or path
    for keep in range(len(parts) - 1, 0, -1):
        candidate = ".../" + "/".join(parts[-keep:]) if keep < len(parts) else path
        if text_width(candidate, scale) <= width_px:
            return candidate
    candidate = ".../" + name
    if text_width(candidate, scale) <= width_px:
        return candidate
    # a file name wider than the line: keep its start and its end (the extension, a counter)
    n = len(name)
    while n > 4:
        n -= 1
        half = n // 2
        candidate = name[: n - half] + "..." + name[len(name) - half :]
        if text_width(candidate, scale) <= width_px:
            return candidate
    return name[:1] + "..."


def _wrap(text: str, width_px: int, scale: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        trial = word if not line else f"{line} {word}"
        if text_width(trial, scale) <= width_px or (not line and text_width(word, scale) <= width_px):
            line = trial
            continue
        if line:
            lines.append(line)
        while text_width(word, scale) > width_px and len(word) > 1:  # hard break a long word
            cut = len(word)
            while cut > 1 and text_width(word[:cut], scale) > width_px:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


def fit_text(text: str, width_px: int, *, scale: float = 0.45, max_lines: int = 3) -> list[str]:
    """Lines of ``text`` that each fit ``width_px`` pixels (OpenCV's Hershey font at ``scale``).

    The one text-fitting rule of the window, for every message and label: text that fits is
    kept as it is; otherwise it is wrapped at spaces. When that takes more than ``max_lines``
    lines, paths are shortened first (leading folders become ``...``: the file name stays) and
    the text is wrapped again; what still does not fit ends in ``...`` on the last line.
    """
    if width_px < 8 or max_lines < 1:
        raise InputError(f"text box {width_px} px x {max_lines} lines is too small: give >= 8 px, >= 1 line")
    text = str(text).replace("\n", " ")
    if text_width(text, scale) <= width_px:
        return [text]  # as it is: column spacing stays
    text = " ".join(text.split())
    lines = _wrap(text, width_px, scale)
    if len(lines) > max_lines:
        short = _PATH.sub(lambda m: _shorten_path(m.group(0), width_px * 2 // 3, scale), text)
        lines = _wrap(short, width_px, scale)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "...", scale) > width_px:
            last = last[:-1]
        lines[-1] = last + "..."
    return lines


def put_lines(
    canvas: np.ndarray,
    text: str,
    origin: tuple[int, int],
    width_px: int,
    *,
    scale: float = 0.45,
    colour=TEXT,
    max_lines: int = 3,
) -> int:
    """Write ``text`` fitted to ``width_px`` (:func:`fit_text`) below ``origin``; return the next y."""
    x, y = origin
    for line in fit_text(text, width_px, scale=scale, max_lines=max_lines):
        (_, th), base = cv2.getTextSize(line or " ", FONT, scale, 1)
        y += th + base + 4
        cv2.putText(canvas, line, (x, y - base), FONT, scale, colour, 1, cv2.LINE_AA)
    return y
