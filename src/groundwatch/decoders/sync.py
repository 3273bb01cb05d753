"""Frame synchronisation of a raw byte stream (131.0-B-4 sections 9 and 10).

``FrameSynchronizer`` finds the attached sync marker 0x1ACFFC1D and cuts the frame of the
mission's length that follows it; it is incremental (a frame may be split across chunks).
Octets that are not behind a marker are reported once per run as ``NotSynced``.
``derandomize`` removes (and, being an XOR, applies) the CCSDS pseudo-randomiser:
h(x) = x^8 + x^7 + x^5 + x^3 + 1, all-ones seed, restarted at each frame after the ASM.
"""

from __future__ import annotations

from dataclasses import dataclass

ASM = bytes.fromhex("1ACFFC1D")
PN_PERIOD_OCTETS = 255  # 255-bit period: 255 octets hold exactly 8 periods
MAX_KEPT_UNSYNCED = 65_536  # octets of one unsynced run kept raw; the rest is only counted


def pseudo_random_sequence(length: int) -> bytes:
    """The first ``length`` octets of the CCSDS randomiser sequence (FF 48 0E C0 ...)."""
    bits = [1] * 8  # a(0..7) = 1: the all-ones seed
    for n in range(PN_PERIOD_OCTETS * 8 - 8):
        # a(n+8) = a(n+7) + a(n+5) + a(n+3) + a(n)  (mod 2), from h(x).
        bits.append(bits[n + 7] ^ bits[n + 5] ^ bits[n + 3] ^ bits[n])
    period = bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))
    reps = -(-length // PN_PERIOD_OCTETS)
    return (period * reps)[:length]


class Derandomizer:
    """XORs frames with the pseudo-random sequence (precomputed once per frame length)."""

    def __init__(self) -> None:
        self._seq: dict[int, int] = {}

    def __call__(self, frame: bytes) -> bytes:
        n = len(frame)
        seq = self._seq.get(n)
        if seq is None:
            seq = int.from_bytes(pseudo_random_sequence(n), "big")
            self._seq[n] = seq
        return (int.from_bytes(frame, "big") ^ seq).to_bytes(n, "big")


@dataclass(slots=True, frozen=True)
class NotSynced:
    """Octets found between frames where no sync marker was."""

    octets: int
    data: bytes  # the first MAX_KEPT_UNSYNCED of them


class FrameSynchronizer:
    """Cuts frames of ``frame_length`` octets from behind each ASM in a byte stream."""

    def __init__(self, frame_length: int, *, asm: bytes = ASM, randomized: bool = False) -> None:
        if frame_length <= 0:
            raise ValueError("frame length must be positive")
        self.frame_length = frame_length
        self.asm = asm
        self._buf = bytearray()
        self._derandomize = Derandomizer() if randomized else None
        self._unsynced = bytearray()
        self._unsynced_count = 0

    def feed(self, chunk: bytes) -> list[bytes | NotSynced]:
        self._buf += chunk
        out: list[bytes | NotSynced] = []
        need = len(self.asm) + self.frame_length
        while True:
            i = self._buf.find(self.asm)
            if i < 0:
                # Keep a possible marker prefix at the end; the rest is unsynced.
                keep = len(self.asm) - 1
                if len(self._buf) > keep:
                    self._skip(len(self._buf) - keep)
                break
            if i:
                self._skip(i)
            if self._unsynced_count:
                out.append(self._take_unsynced())
            if len(self._buf) < need:
                break
            frame = bytes(self._buf[len(self.asm) : need])
            del self._buf[:need]
            out.append(self._derandomize(frame) if self._derandomize else frame)
        return out

    def flush(self) -> list[bytes | NotSynced]:
        """At the end of the stream: whatever is left is reported unsynced."""
        if self._buf:
            self._skip(len(self._buf))
        return [self._take_unsynced()] if self._unsynced_count else []

    def _skip(self, n: int) -> None:
        room = MAX_KEPT_UNSYNCED - len(self._unsynced)
        if room > 0:
            self._unsynced += self._buf[: min(n, room)]
        self._unsynced_count += n
        del self._buf[:n]

    def _take_unsynced(self) -> NotSynced:
        lost = NotSynced(self._unsynced_count, bytes(self._unsynced))
        self._unsynced = bytearray()
        self._unsynced_count = 0
        return lost


def attach_asm(frame: bytes, *, randomize: bool = False) -> bytes:
    """ASM plus the frame (randomised when the link is): how a transmitter sends it."""
    if randomize:
        frame = Derandomizer()(frame)
    return ASM + frame
