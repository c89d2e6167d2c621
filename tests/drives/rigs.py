"""Rig factories: each driver with its peer (sim model, GRBL emulator, Sangaboard emulator)."""

from __future__ import annotations

from focuscam.drives import open_drive

from .contract import DriveContract, Rig
from .grbl_emulator import GrblEmulator
from .sangaboard_emulator import SangaboardEmulator


def sim_rig(*, backlash_um: float = 0.0, mech_backlash_um: float = 0.0, clock: str = "wall") -> Rig:
    drive = open_drive(
        "sim",
        limits=DriveContract.LIMITS,
        backlash_um=backlash_um,
        mechanical_backlash_um=mech_backlash_um,
        speed_um_s=1000.0,
        accel_um_s2=20000.0,
        clock=clock,
    )

    def fail(on: bool) -> None:
        if on:
            drive.inject_fault("timeout")

    return Rig(
        drive=drive,
        resolution_um=1e-6,
        targets_um=lambda: list(drive.commands),
        mechanical_um=lambda: drive.mechanical_position,
        moving=lambda: drive.moving,
        fail_replies=fail,
    )


def _emulated_rig(peer, spec: str, resolution_um: float, **settings) -> Rig:
    """Open ``spec`` on an emulator's pty (closing the emulator if that fails) and wrap both."""
    try:
        drive = open_drive(spec, limits=DriveContract.LIMITS, timeout_s=0.5, **settings)
    except BaseException:
        peer.close()
        raise

    def fail(on: bool) -> None:
        peer.silent = on

    return Rig(
        drive=drive,
        resolution_um=resolution_um,
        targets_um=lambda: list(peer.targets_um),
        mechanical_um=lambda: peer.mechanical_um,
        moving=lambda: peer.moving,
        fail_replies=fail,
        close=peer.close,
    )


def grbl_rig(*, backlash_um: float = 0.0, mech_backlash_um: float = 0.0, **emu) -> tuple[Rig, GrblEmulator]:
    emu.setdefault("lose_bytes", 0)
    peer = GrblEmulator(mech_backlash_um=mech_backlash_um, **emu)
    rig = _emulated_rig(
        peer,
        f"grbl:{peer.port}",
        1000.0 / peer.steps_per_mm,
        backlash_um=backlash_um,
        speed_um_s=1000.0,
    )
    return rig, peer


def sangaboard_rig(
    *,
    backlash_um: float = 0.0,
    mech_backlash_um: float = 0.0,
    blocking: bool = True,
    style: str = "1.0",
    **emu,
) -> tuple[Rig, SangaboardEmulator]:
    peer = SangaboardEmulator(mech_backlash_um=mech_backlash_um, style=style, **emu)
    rig = _emulated_rig(
        peer,
        f"sangaboard:{peer.port}",
        1.0 / peer.steps_per_um,
        backlash_um=backlash_um,
        steps_per_um=peer.steps_per_um,
        blocking=blocking,
    )
    return rig, peer
