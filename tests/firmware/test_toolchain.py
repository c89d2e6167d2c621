"""Without the toolchain the firmware tests skip locally (with the install command) and fail in
CI (FOCUSCAM_REQUIRE_TOOLCHAIN=1)."""

from __future__ import annotations

import pytest

from . import peers


@pytest.fixture
def no_compiler(monkeypatch):
    monkeypatch.setattr(peers, "_built", {})
    monkeypatch.setattr(peers.shutil, "which", lambda name: None)


def test_a_missing_toolchain_skips_locally_with_the_apt_command(no_compiler, monkeypatch):
    monkeypatch.setattr(peers, "REQUIRE", False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install g\+\+ make"):
        peers.build("host")
    with pytest.raises(pytest.skip.Exception, match="apt-get install simavr libsimavr-dev"):
        peers.build("runner")


def test_a_missing_toolchain_fails_when_required(no_compiler, monkeypatch):
    monkeypatch.setattr(peers, "REQUIRE", True)
    with pytest.raises(pytest.fail.Exception, match="FOCUSCAM_REQUIRE_TOOLCHAIN=1"):
        peers.build("avr")
