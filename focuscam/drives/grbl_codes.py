"""GRBL 1.1 error and alarm codes with their meanings (from GRBL's published interface docs)."""

from __future__ import annotations

__all__ = ["ALARMS", "ERRORS", "alarm_text", "error_text"]

ERRORS: dict[int, str] = {
    1: "G-code words consist of a letter and a value; the letter was not found",
    2: "missing the expected G-code word value, or the numeric value format is not valid",
    3: "the '$' system command was not recognized or supported",
    4: "negative value received for an expected positive value",
    5: "homing cycle failure: homing is not enabled via settings ($22)",
    6: "minimum step pulse time must be greater than 3 us",
    7: "EEPROM read failed; default settings restored",
    8: "the '$' command cannot be used unless GRBL is idle",
    9: "G-code commands are locked out during alarm or jog state",
    10: "soft limits cannot be enabled without homing also enabled",
    11: "max characters per line exceeded; the line was not processed",
    12: "the '$' setting value makes the step rate exceed the maximum",
    13: "safety door detected as opened and door state initiated",
    14: "build info or startup line exceeded the EEPROM line length limit",
    15: "jog target exceeds machine travel; the jog was ignored",
    16: "jog command has no '=' or contains prohibited G-code",
    17: "laser mode requires PWM output",
    20: "unsupported or invalid G-code command found in block",
    21: "more than one G-code command from the same modal group found in block",
    22: "feed rate has not yet been set or is undefined",
    23: "G-code command in block requires an integer value",
    24: "more than one G-code command that requires axis words found in block",
    25: "repeated G-code word found in block",
    26: "no axis words found in block for a G-code command that requires them",
    27: "line number value is invalid",
    28: "G-code command is missing a required value word",
    29: "G59.x work coordinate systems are not supported",
    30: "G53 only allowed with G0 and G1 motion modes",
    31: "axis words found in block when no command or modal state uses them",
    32: "G2 and G3 arcs require at least one in-plane axis word",
    33: "motion command target is invalid",
    34: "arc radius value is invalid",
    35: "G2 and G3 arcs require at least one in-plane offset word",
    36: "unused value words found in block",
    37: "G43.1 dynamic tool length offset is not assigned to the configured tool length axis",
    38: "tool number greater than the maximum supported value",
}

ALARMS: dict[int, str] = {
    1: "hard limit triggered; position likely lost, re-homing is recommended",
    2: "soft limit: motion target exceeds machine travel; position retained",
    3: "reset while in motion; position likely lost, re-homing is recommended",
    4: "probe fail: the probe is not in the expected initial state",
    5: "probe fail: the probe did not contact the workpiece",
    6: "homing fail: reset during an active homing cycle",
    7: "homing fail: safety door opened during the homing cycle",
    8: "homing fail: pull-off travel failed to clear the limit switch",
    9: "homing fail: could not find the limit switch within the search distance",
    10: "homing fail: on dual-axis machines, could not find the second limit switch",
}


def error_text(code: int) -> str:
    """The meaning of GRBL's ``error:<code>``."""
    return ERRORS.get(code, "unknown error code (not in GRBL 1.1's list)")


def alarm_text(code: int) -> str:
    """The meaning of GRBL's ``ALARM:<code>``."""
    return ALARMS.get(code, "unknown alarm code (not in GRBL 1.1's list)")
