"""A supported testing API: test your own code against recorded z-stacks, without hardware.

focuscam replays a recorded (or synthetic) z-stack as a digital twin: a simulated focus drive
and a frame source that shows, at every moment, the recorded plane nearest to the drive's
position, on a virtual clock (a whole closed loop runs at full speed with realistic times).
This module is the stable face of that machinery for other people's test suites:

- :func:`twin` -- a ``(source, drive)`` pair over a stack, with optional per-frame sensor
  noise and sample drift (both seeded);
- :func:`recording_drive` -- a simulated drive that records every command with its time, with
  assertions on motion (never past the limits, the final approach direction, move counts);
- :func:`synthetic_stack` -- a small synthetic z-stack with a known focus, written to a folder;
- :func:`assert_focused` -- assert that an autofocus or plane-selection result landed on the
  stack's true focus, with a failure message that says truth, tolerance, error and state.

The pytest plugin (:mod:`focuscam.testing.plugin`, registered through the ``pytest11`` entry
point) turns these into fixtures: ``focuscam_twin``, ``focuscam_stack``, ``focuscam_drive``, and
the option ``--focuscam-stacks DIR``. Importing this package is cheap: the names below load
numpy, OpenCV and numba only when first used.
"""

from __future__ import annotations

from .._lazy import lazy_api

_API = {
    "Twin": "focuscam.testing._twin",
    "Noise": "focuscam.testing._twin",
    "twin": "focuscam.testing._twin",
    "Command": "focuscam.testing._drive",
    "RecordingDrive": "focuscam.testing._drive",
    "recording_drive": "focuscam.testing._drive",
    "synthetic_stack": "focuscam.testing._stacks",
    "assert_focused": "focuscam.testing._stacks",
    "find_stacks": "focuscam.testing._stacks",
}

__all__ = sorted(_API)


__getattr__, __dir__ = lazy_api("focuscam.testing", _API, globals())
