"""Python devices for Micro-Manager: focuscam's digital twin *inside* a real MMCore.

Load them into a :class:`pymmcore_plus.experimental.unicore.UniMMCore` (``core.loadPyDevice``,
or ``#py pyDevice`` lines of a ``.cfg``) to try ``mm:`` sources and drives without hardware:

- :class:`TwinStage`: a focus (Z) stage that moves at ``Speed`` um/s in real time, reports
  busy while it moves (and ``SettleBusy_s`` seconds longer), models a mechanical dead band
  of ``Backlash`` um between the motor and the optics, stops mid-move, and can be told to
  fail (``Fault``: ``none``, ``hang`` = busy forever like a controller that never answers,
  ``error`` = every move is refused, ``error-mid-move`` = the controller fails while moving).
- :class:`TwinCamera`: a camera serving the plane of a recorded z-sweep (``Stack``, a stack
  folder, image folder or TIFF) at the optics position of the stage labelled ``Stage`` when
  the image is snapped: a linear blend of the two nearest planes (``Blend`` 1, the default,
  so the focus curve is continuous between planes) or the nearest plane (``Blend`` 0);
  16-bit kept; colour stacks are served as RGB.

A configuration file (see ``recordings/mm_twin.cfg``)::

    #py pyDevice,Camera,focuscam.mm_devices,TwinCamera
    #py pyDevice,Z,focuscam.mm_devices,TwinStage
    #py Property,Camera,Stack,target_color
    Property,Core,Initialize,1
    #py Property,Core,Camera,Camera
    #py Property,Core,Focus,Z

A relative ``Stack`` is resolved against the folder of the ``.cfg`` when focuscam opens it
(``mm:CFG``), else against the working directory.
"""

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from pymmcore_plus.experimental.unicore import SimpleCameraDevice, StageDevice, pymm_property

__all__ = ["FAULTS", "TwinCamera", "TwinStage", "config_dir"]

#: The values of TwinStage's ``Fault`` property.
FAULTS = ("none", "hang", "error", "error-mid-move")

_base_dir: list[Path | None] = [None]
_stages: dict[str, "TwinStage"] = {}
_stages_lock = threading.Lock()


@contextlib.contextmanager
def config_dir(folder: Path) -> Iterator[None]:
    """Resolve relative ``Stack`` paths against ``folder`` while a configuration loads."""
    previous = _base_dir[0]
    _base_dir[0] = Path(folder)
    try:
        yield
    finally:
        _base_dir[0] = previous


class TwinStage(StageDevice):
    """A simulated focus stage (um) with real-time motion, busy state, dead band and faults."""

    def __init__(self) -> None:
        super().__init__()
        self._speed = 1000.0
        self._backlash = 0.0
        self._settle_busy = 0.0
        self._fault = "none"
        self._seg = (0.0, 0.0, 0.0, 0.0)  # (z_from, z_to, t0, t1): the current motion segment
        self._busy_until = 0.0
        self._optics = 0.0
        self.commands: list[float] = []  # every target the stage was sent, in um

    # ------------------------------------------------------------------ properties
    @pymm_property(limits=(1.0, 1e6), property_type=float, name="Speed")
    def speed(self) -> float:
        """Speed in um/s."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._speed = float(value)

    @pymm_property(limits=(0.0, 1000.0), property_type=float, name="Backlash")
    def backlash(self) -> float:
        """Mechanical dead band between motor and optics, in um."""
        return self._backlash

    @backlash.setter
    def backlash(self, value: float) -> None:
        self._backlash = float(value)

    @pymm_property(limits=(0.0, 60.0), property_type=float, name="SettleBusy_s")
    def settle_busy(self) -> float:
        """Seconds the stage keeps reporting busy after the motion ended."""
        return self._settle_busy

    @settle_busy.setter
    def settle_busy(self, value: float) -> None:
        self._settle_busy = float(value)

    @pymm_property(allowed_values=FAULTS, property_type=str, name="Fault")
    def fault(self) -> str:
        """Injected fault: none, hang, error or error-mid-move."""
        return self._fault

    @fault.setter
    def fault(self, value: str) -> None:
        self._fault = str(value)

    # ------------------------------------------------------------------ motion model
    def initialize(self) -> None:
        with _stages_lock:
            _stages[self.get_label()] = self

    def shutdown(self) -> None:
        with _stages_lock:
            if _stages.get(self.get_label()) is self:
                del _stages[self.get_label()]

    def _motor_at(self, t: float) -> float:
        z0, z1, t0, t1 = self._seg
        if t >= t1 or t1 <= t0:
            return z1
        return z0 + (z1 - z0) * (t - t0) / (t1 - t0)

    def _update_optics(self, motor: float) -> float:
        # the optics follow the motor through a dead band: pushed up, they lag by the band
        self._optics = min(max(self._optics, motor - self._backlash), motor)
        return self._optics

    def moving(self) -> bool:
        """True while the motor moves (not counting the extra busy time)."""
        return time.monotonic() < self._seg[3]

    @property
    def optics_um(self) -> float:
        """Where the optics are now, in um (the motor position through the dead band)."""
        return self._update_optics(self._motor_at(time.monotonic()))

    def set_position_um(self, val: float) -> None:
        if self._fault == "error":
            raise RuntimeError("TwinStage: the controller refused the move (injected fault 'error')")
        now = time.monotonic()
        here = self._motor_at(now)
        self._update_optics(here)
        target = float(val)
        t1 = now + abs(target - here) / self._speed
        self._seg = (here, target, now, t1)
        self._busy_until = t1 + self._settle_busy
        self.commands.append(target)
        self.core.events.stagePositionChanged.emit(self.get_label(), target)

    def get_position_um(self) -> float:
        now = time.monotonic()
        z = self._motor_at(now)
        self._update_optics(z)
        return z

    def busy(self) -> bool:
        if self._fault == "hang":
            return True
        now = time.monotonic()
        if self._fault == "error-mid-move" and now < self._seg[3]:
            raise RuntimeError("TwinStage: the controller failed mid-move (injected fault 'error-mid-move')")
        return now < self._busy_until

    def stop(self) -> None:
        now = time.monotonic()
        here = self._motor_at(now)
        self._update_optics(here)
        self._seg = (here, here, now, now)
        self._busy_until = now

    def home(self) -> None:
        self.set_position_um(0.0)

    def set_origin(self) -> None:
        raise NotImplementedError("TwinStage has no origin to set: it is a twin of a recorded stack")


class TwinCamera(SimpleCameraDevice):
    """A camera serving the recorded plane nearest to the optics of the stage ``Stage``."""

    def __init__(self) -> None:
        super().__init__()
        self._stack_path = ""
        self._stage = "Z"
        self._exposure = 10.0
        self._blend = True
        self._stack = None
        self._planes_um = np.zeros(0)
        self._order = np.zeros(0, dtype=np.intp)
        self._cache: dict[int, np.ndarray] = {}
        self.snaps = 0

    @pymm_property(is_pre_init=True, property_type=str, name="Stack")
    def stack(self) -> str:
        """The recorded z-sweep served (a stack folder, image folder or TIFF)."""
        return self._stack_path

    @stack.setter
    def stack(self, value: str) -> None:
        from .stacks import load_stack
        from .twin import z_scale_um

        path = Path(str(value)).expanduser()
        if not path.is_absolute() and _base_dir[0] is not None:
            path = _base_dir[0] / path
        stack = load_stack(path)  # a StackError names the file and the fix
        z_um = np.asarray(stack.z, dtype=float) * z_scale_um(stack.z_unit)
        if len(stack) < 2 or not np.all(np.isfinite(z_um)):
            raise ValueError(f"stack {path} needs a z for every frame and at least 2 frames")
        self._order = np.argsort(z_um, kind="stable")
        self._planes_um = z_um[self._order]
        self._stack, self._stack_path, self._cache = stack, str(path), {}

    @pymm_property(property_type=str, name="Stage")
    def stage(self) -> str:
        """Label of the TwinStage whose optics position picks the plane."""
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        self._stage = str(value)

    @pymm_property(allowed_values=(0, 1), property_type=int, name="Blend")
    def blend(self) -> int:
        """1: blend the two planes around the optics position linearly; 0: the nearest plane."""
        return int(self._blend)

    @blend.setter
    def blend(self, value: int) -> None:
        self._blend = bool(int(value))

    def get_exposure(self) -> float:
        return self._exposure

    def set_exposure(self, exposure: float) -> None:
        self._exposure = float(exposure)

    def initialize(self) -> None:
        if self._stack is None:
            raise RuntimeError("TwinCamera needs its Stack property: the path of a recorded z-sweep")

    def _plane(self, k: int) -> np.ndarray:
        img = self._cache.get(k)
        if img is None:
            assert self._stack is not None
            img = self._stack.image(int(self._order[k]))
            if img.ndim == 3:
                img = np.ascontiguousarray(img[:, :, ::-1])  # stacks are BGR, cameras give RGB
            self._cache[k] = img
        return img

    def sensor_shape(self) -> tuple[int, int] | tuple[int, int, int]:
        return self._plane(0).shape  # type: ignore[return-value]

    def dtype(self) -> np.dtype:
        return self._plane(0).dtype

    def snap(self, buffer: np.ndarray) -> Mapping:
        with _stages_lock:
            stage = _stages.get(self._stage)
        if stage is None:
            raise RuntimeError(f"TwinCamera: no TwinStage labelled {self._stage!r} is loaded")
        z = stage.optics_um
        p = self._planes_um
        j = int(np.searchsorted(p, z))
        if j <= 0 or j >= p.size:
            k = 0 if j <= 0 else p.size - 1
            buffer[:] = self._plane(k)
        else:
            w = (z - p[j - 1]) / (p[j] - p[j - 1])
            k = j if w >= 0.5 else j - 1
            if self._blend and 0.0 < w < 1.0:
                mix = (1.0 - w) * self._plane(j - 1).astype(np.float32) + w * self._plane(j)
                if buffer.dtype.kind in "ui":
                    info = np.iinfo(buffer.dtype)
                    mix = np.clip(np.rint(mix), info.min, info.max)
                buffer[:] = mix.astype(buffer.dtype)
            else:
                buffer[:] = self._plane(k)
        self.snaps += 1
        return {"TwinZ_um": f"{z:.6f}", "TwinPlane": str(k)}
