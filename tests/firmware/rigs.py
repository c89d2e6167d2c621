"""Contract rigs: FirmwareDrive -> pty proxy -> firmware (host build or AVR under simavr)."""

from __future__ import annotations

from drives.contract import DriveContract, Rig

from focuscam.drives import open_drive

from .peers import FirmwareProcess, PtyProxy

#: Steps per um of the rigs: 0.5 um resolution; 5000 steps/s = 2500 um/s, so a 900 um move
#: takes ~0.6 s with the ramps (the contract needs >= 0.3 s to stop mid-move).
STEPS_PER_UM = 2.0
SPEED_UM_S = 2500.0
ACCEL_UM_S2 = 10000.0


class FirmwareRig:
    """The pieces of one rig, for tests that need more than the contract's handles."""

    def __init__(
        self,
        kind: str,
        *,
        backlash_um: float = 0.0,
        mech_backlash_um: float = 0.0,
        timeout_s: float | None = None,
        retries: int = 2,
        proxy: bool = True,
        fw_args=(),
        **drive_kw,
    ):
        if timeout_s is None:  # generous on a busy machine: a late reply costs only a resend
            timeout_s = 0.4 if kind == "host" else 0.6
        self.fw = FirmwareProcess(kind, *fw_args, backlash_steps=round(mech_backlash_um * STEPS_PER_UM))
        self.proxy = None
        try:
            self.proxy = PtyProxy(self.fw.port) if proxy else None
            port = self.proxy.port if proxy else self.fw.port
            self.drive = open_drive(
                f"focuscam:{port}",
                limits=DriveContract.LIMITS,
                backlash_um=backlash_um,
                steps_per_um=STEPS_PER_UM,
                speed_um_s=SPEED_UM_S,
                accel_um_s2=ACCEL_UM_S2,
                timeout_s=timeout_s,
                retries=retries,
                **drive_kw,
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        self.fw.close()

    def rig(self) -> Rig:
        def fail(on: bool) -> None:
            self.proxy.mute = on

        return Rig(
            drive=self.drive,
            resolution_um=1.0 / STEPS_PER_UM,
            targets_um=lambda: [t / STEPS_PER_UM for t in self.proxy.targets],
            mechanical_um=lambda: self.fw.state()["mech"] / STEPS_PER_UM,
            moving=lambda: bool(self.fw.state()["moving"]),
            fail_replies=fail,
            close=self.close,
        )


def factory(kind: str):
    """A ``make_rig`` for the contract suite, and the list of rigs to shut down."""
    rigs: list[Rig] = []

    def make(*, backlash_um: float = 0.0, mech_backlash_um: float = 0.0) -> Rig:
        rig = FirmwareRig(kind, backlash_um=backlash_um, mech_backlash_um=mech_backlash_um).rig()
        rigs.append(rig)
        return rig

    return make, rigs
