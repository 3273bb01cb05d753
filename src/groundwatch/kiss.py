"""KISS framing (K9NG/KA9Q 1987): how TNCs and SDR decoders hand over AX.25 frames.

Transport framing, not decoding: the one module the KISS TCP source, ``groundwatch decode
--format kiss``, replay and the simulator share (the source does not import the decoders).

A frame is FEND, a type octet (high nibble port, low nibble command: 0 = data), the data
with FEND/FESC escaped as FESC TFEND / FESC TFESC, then FEND. ``KissDecoder`` is
incremental (feed it TCP chunks); a frame with a bad escape is reported, not decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

FEND = 0xC0
FESC = 0xDB
TFEND = 0xDC
TFESC = 0xDD
MAX_FRAME = 65_536  # longer runs without FEND are garbage, not a frame


class KissCommand(IntEnum):
    DATA = 0x0
    TX_DELAY = 0x1
    PERSISTENCE = 0x2
    SLOT_TIME = 0x3
    TX_TAIL = 0x4
    FULL_DUPLEX = 0x5
    SET_HARDWARE = 0x6
    RETURN = 0xF


@dataclass(slots=True, frozen=True)
class KissFrame:
    port: int
    command: int
    data: bytes


@dataclass(slots=True, frozen=True)
class KissError:
    detail: str
    data: bytes  # the raw (escaped) octets of the bad frame


def kiss_encode(data: bytes, port: int = 0, command: int = KissCommand.DATA) -> bytes:
    escaped = data.replace(bytes([FESC]), bytes([FESC, TFESC])).replace(
        bytes([FEND]), bytes([FESC, TFEND])
    )
    return bytes([FEND, ((port & 0xF) << 4) | (command & 0xF)]) + escaped + bytes([FEND])


class KissDecoder:
    """Turns a KISS byte stream, in chunks of any size, into frames."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = False

    def feed(self, chunk: bytes) -> list[KissFrame | KissError]:
        out: list[KissFrame | KissError] = []
        for part_index, part in enumerate(chunk.split(bytes([FEND]))):
            if part_index > 0:
                # A FEND closes the frame in progress and opens the next one.
                if self._in_frame and self._buf:
                    out.append(self._finish())
                self._buf.clear()
                self._overflow = False
                self._in_frame = True
            if self._in_frame and part:
                if len(self._buf) + len(part) > MAX_FRAME:
                    self._overflow = True
                    self._buf.clear()
                else:
                    self._buf += part
        return out

    def _finish(self) -> KissFrame | KissError:
        raw = bytes(self._buf)
        if self._overflow:
            return KissError(f"frame longer than {MAX_FRAME} octets", raw[:256])
        type_octet, body = raw[0], raw[1:]
        data = bytearray()
        i = 0
        while i < len(body):
            c = body[i]
            if c == FESC:
                nxt = body[i + 1] if i + 1 < len(body) else None
                if nxt == TFEND:
                    data.append(FEND)
                elif nxt == TFESC:
                    data.append(FESC)
                else:
                    return KissError(f"FESC followed by {nxt!r} at {i + 1}", raw)
                i += 2
                continue
            data.append(c)
            i += 1
        return KissFrame(port=type_octet >> 4, command=type_octet & 0xF, data=bytes(data))
