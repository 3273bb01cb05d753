"""Signed acknowledgements: what the verifier accepts and what it refuses."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from groundwatch.alerts.ack_auth import (
    AckRefused,
    AckVerifier,
    operator_secret,
    read_secrets,
    sign,
)
from groundwatch.parts import ConfigError

SECRETS = {"op1": b"first", "op2": b"second"}


def test_a_signed_ack_is_accepted_once() -> None:
    v = AckVerifier(SECRETS, max_age=60)
    ack = sign(b"first", "a1", "op1", "on it")
    assert v.verify(ack) == "op1"
    with pytest.raises(AckRefused, match="replayed"):
        v.verify(ack)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sig": None}, "unsigned"),
        ({"by": "op2"}, "bad signature"),  # op1's signature claimed for op2
        ({"id": "other"}, "bad signature"),
        ({"comment": "changed"}, "bad signature"),
        ({"by": "mallory"}, "unknown operator"),
        ({"ts": time.time() - 3600}, "window"),
        ({"ts": "now"}, "window"),
    ],
)
def test_tampered_or_stale_acks_are_refused(change: dict[str, object], why: str) -> None:
    ack = {**sign(b"first", "a1", "op1", None), **change}
    with pytest.raises(AckRefused, match=why):
        AckVerifier(SECRETS, max_age=60).verify(ack)


def test_secrets_files(tmp_path: Path) -> None:
    f = tmp_path / "secrets"
    f.write_text("# operators\nop1: first \n\nop2:second\n")
    f.chmod(0o600)
    assert read_secrets(f) == SECRETS
    assert operator_secret(f, "op2") == b"second"
    own = tmp_path / "mine"
    own.write_text("first\n")
    assert operator_secret(own, "op1") == b"first"
    f.write_text("op1\n")
    with pytest.raises(ConfigError, match="line 1"):
        read_secrets(f)
    with pytest.raises(ConfigError, match="cannot read"):
        read_secrets(tmp_path / "missing")


def test_a_signed_ack_with_a_time_that_is_not_a_number_is_refused() -> None:
    # NaN compares false with everything: it passed the window and left the replay cache
    # at once, so the same signed ack could be replayed forever.
    ack = sign(b"first", "a1", "op1", None, now=float("nan"))
    with pytest.raises(AckRefused, match="window"):
        AckVerifier(SECRETS, max_age=60).verify(ack)
