"""AX.25 v2.2 UI frames as small spacecraft downlink them (no FCS: KISS and most SDR
decoders deliver frames with the FCS already checked and stripped).

Address field (AX.25 2.2 section 3.12): destination, source, then up to 8 digipeaters, each
7 octets: six ASCII characters shifted left one bit (space padded), then an SSID octet
``C/H RR SSID(4) X`` whose X bit marks the last address. Then control (0x03 for UI, 0x13
with the poll bit), PID (0xF0: no layer 3) and the information field.

``wire_layouts.Ax25UiFrame`` (Construct) is used to build; ``parse_ax25`` is a hand-written
reader of the same layout that checks every octet before trusting it and raises
``DecodeError(BAD_AX25)`` with a precise detail; a test proves the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from groundwatch.decoders.api import DecodeError
from groundwatch.model import Ax25Header, RejectReason

ADDRESS_LEN = 7
MAX_DIGIPEATERS = 8
CONTROL_UI = 0x03
PID_NO_LAYER3 = 0xF0
_CALL_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")


@dataclass(slots=True, frozen=True)
class Ax25Digipeater:
    """A decoded address (digipeaters keep their has-been-repeated bit in ``ch``)."""

    callsign: str
    ssid: int = 0
    ch: bool = False


@dataclass(slots=True)
class Ax25Frame:
    dst: str
    src: str
    info: bytes
    dst_ssid: int = 0
    src_ssid: int = 0
    control: int = CONTROL_UI
    pid: int = PID_NO_LAYER3
    command: bool = True  # dst C bit 1, src C bit 0: a command frame (AX.25 2.x)
    digipeaters: list[Ax25Digipeater] = field(default_factory=list)

    def header(self) -> Ax25Header:
        return Ax25Header(
            dst=self.dst,
            dst_ssid=self.dst_ssid,
            src=self.src,
            src_ssid=self.src_ssid,
            control=self.control,
            pid=self.pid,
        )


def _encode_call(callsign: str) -> bytes:
    call = callsign.upper().encode("ascii")
    if len(call) > 6 or any(c not in _CALL_CHARS for c in call):
        raise ValueError(f"not an AX.25 callsign: {callsign!r}")
    return bytes(c << 1 for c in call.ljust(6))


def _address(call: str, ssid: int, ch: bool, last: bool) -> dict[str, object]:
    if not 0 <= ssid <= 15:
        raise ValueError(f"SSID {ssid} outside 0..15")
    return {
        "callsign": _encode_call(call),
        "ssid_octet": {"ch": ch, "reserved": 0b11, "ssid": ssid, "last": last},
    }


def build_ax25(frame: Ax25Frame) -> bytes:
    """The octets of a UI frame (without flags and FCS, as KISS carries it)."""
    digis = frame.digipeaters
    if len(digis) > MAX_DIGIPEATERS:
        raise ValueError("at most 8 digipeaters")
    from groundwatch.decoders.wire_layouts import Ax25UiFrame

    out: bytes = Ax25UiFrame.build(
        {
            "dst": _address(frame.dst, frame.dst_ssid, frame.command, False),
            "src": _address(frame.src, frame.src_ssid, not frame.command, not digis),
            "digipeaters": [
                _address(d.callsign, d.ssid, d.ch, i == len(digis) - 1) for i, d in enumerate(digis)
            ]
            or None,
            "control": frame.control,
            "pid": frame.pid,
            "info": frame.info,
        }
    )
    return out


def _decode_address(data: bytes, offset: int) -> tuple[Ax25Digipeater, bool]:
    raw = data[offset : offset + 6]
    if any(c & 1 for c in raw):
        raise DecodeError(RejectReason.BAD_AX25, f"address at {offset} ends before 7 octets")
    chars = bytes(c >> 1 for c in raw)
    if any(c not in _CALL_CHARS for c in chars):
        raise DecodeError(RejectReason.BAD_AX25, f"callsign octets {raw.hex()} not A-Z/0-9")
    call = chars.decode("ascii").rstrip()
    if not call or " " in call:
        raise DecodeError(RejectReason.BAD_AX25, f"callsign {chars!r} malformed")
    s = data[offset + 6]
    return Ax25Digipeater(call, (s >> 1) & 0xF, bool(s & 0x80)), bool(s & 1)


def parse_ax25(data: bytes) -> Ax25Frame:
    """A UI (or other) frame with its addresses; raises DecodeError(BAD_AX25)."""
    if len(data) < 2 * ADDRESS_LEN + 1:
        raise DecodeError(RejectReason.BAD_AX25, f"{len(data)} octets: shorter than a header")
    addresses: list[Ax25Digipeater] = []
    offset = 0
    while True:
        if offset + ADDRESS_LEN > len(data):
            raise DecodeError(RejectReason.BAD_AX25, "address field runs past the frame")
        address, last = _decode_address(data, offset)
        addresses.append(address)
        offset += ADDRESS_LEN
        if last:
            break
        if len(addresses) == 2 + MAX_DIGIPEATERS:
            raise DecodeError(RejectReason.BAD_AX25, "more than 8 digipeaters")
    if len(addresses) < 2:
        raise DecodeError(RejectReason.BAD_AX25, "fewer than two addresses")
    if offset >= len(data):
        raise DecodeError(RejectReason.BAD_AX25, "no control field")
    control = data[offset]
    offset += 1
    # I and UI frames carry a PID; S and U frames other than UI do not.
    has_pid = (control & 0x01) == 0 or (control & 0xEF) == CONTROL_UI
    pid = 0
    if has_pid:
        if offset >= len(data):
            raise DecodeError(RejectReason.BAD_AX25, "no PID field")
        pid = data[offset]
        offset += 1
    dst, src = addresses[0], addresses[1]
    return Ax25Frame(
        dst=dst.callsign,
        dst_ssid=dst.ssid,
        src=src.callsign,
        src_ssid=src.ssid,
        control=control,
        pid=pid,
        command=dst.ch and not src.ch,
        digipeaters=addresses[2:],
        info=data[offset:],
    )
