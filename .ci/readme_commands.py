"""Print one of the README's two quick-start lines: ``main`` (the first) or ``test`` (the second).

The quick start is the first ```sh block under the "## Quick start" heading and holds exactly
two lines. `.ci/run` runs the test line through this script, and a test checks the two agree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def quick_start_lines(readme: Path) -> list[str]:
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)
    if len(section) != 2:
        raise SystemExit("README.md has no '## Quick start' section")
    block = re.search(r"```sh\n(.*?)```", section[1], re.S)
    if block is None:
        raise SystemExit("README.md's Quick start has no ```sh block")
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    if len(lines) != 2:
        raise SystemExit(f"README.md's Quick start block must hold two lines, not {len(lines)}")
    return lines


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "test"
    lines = quick_start_lines(Path(__file__).resolve().parents[1] / "README.md")
    print(lines[0] if which == "main" else lines[1])
