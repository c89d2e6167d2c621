"""The focuscam pytest plugin: recorded and synthetic z-stacks as fixtures.

Registered through the ``pytest11`` entry point, so it is active wherever focuscam is
installed. It costs nothing until a fixture is used: this module imports only pytest and the
standard library; numpy, OpenCV and numba load when a fixture first runs.

Fixtures
--------
focuscam_twin
    A :class:`focuscam.testing.Twin` (``source, drive = focuscam_twin``) over a stack: by
    default a small synthetic stack made in ``tmp_path``; parametrise it with stack paths
    (``@pytest.mark.parametrize("focuscam_twin", [PATH], indirect=True)``), or run the suite
    with ``--focuscam-stacks DIR`` to get one test per stack in DIR (ids = folder names).
focuscam_stack
    The path of a small synthetic z-stack (21 planes, focus at 0 um) in ``tmp_path``;
    parametrise it indirectly with a dict of :func:`focuscam.testing.synthetic_stack` options.
focuscam_drive
    A :class:`focuscam.testing.RecordingDrive` (limits -1000..1000 um, virtual clock);
    parametrise it indirectly with a dict of :func:`focuscam.testing.recording_drive` options.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_OPTION = "--focuscam-stacks"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("focuscam", "focuscam recorded-stack fixtures")
    group.addoption(
        _OPTION,
        dest="focuscam_stacks",
        metavar="DIR",
        default=None,
        help="run every test that uses the focuscam_twin fixture once per stack folder in DIR "
        "(subfolders holding stack.json; test ids are the folder names)",
    )


def _stack_dirs(folder: str) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise pytest.UsageError(f"{_OPTION} {folder}: not a folder; give a folder of stack folders")
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "stack.json").is_file())
    if not found:
        raise pytest.UsageError(f"{_OPTION} {folder}: no stack folders (with stack.json) in it")
    return found


def pytest_configure(config: pytest.Config) -> None:
    folder = config.getoption("focuscam_stacks", None)
    if folder:
        _stack_dirs(os.fspath(folder))  # a wrong folder is a usage error before collection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    folder = metafunc.config.getoption("focuscam_stacks", None)
    if not folder or "focuscam_twin" not in metafunc.fixturenames:
        return
    already = any("focuscam_twin" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if already:
        return
    dirs = _stack_dirs(os.fspath(folder))
    metafunc.parametrize("focuscam_twin", dirs, indirect=True, ids=[d.name for d in dirs])


@pytest.fixture
def focuscam_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A small synthetic z-stack with its true focus at 0 um, in ``tmp_path``."""
    from focuscam.testing import synthetic_stack

    options = getattr(request, "param", None) or {}
    return synthetic_stack(tmp_path, **options)


@pytest.fixture
def focuscam_twin(request: pytest.FixtureRequest, tmp_path: Path):
    """A (source, drive) twin over a stack (synthetic by default; see the module docs)."""
    from focuscam.errors import FocuscamError
    from focuscam.stacks import load_stack
    from focuscam.testing import synthetic_stack, twin

    param = getattr(request, "param", None)
    if param is None:
        path = synthetic_stack(tmp_path)
    else:
        path = Path(param)
    try:
        stack = load_stack(path)
        pair = twin(stack)
    except FocuscamError as exc:
        pytest.skip(f"{path.name}: {exc}")
    yield pair
    pair.source.close()
    pair.drive.close()


@pytest.fixture
def focuscam_drive(request: pytest.FixtureRequest):
    """A simulated drive that records every command (limits -1000..1000 um, virtual clock)."""
    from focuscam.testing import recording_drive

    options = getattr(request, "param", None) or {}
    drive = recording_drive(**options)
    yield drive
    drive.close()
