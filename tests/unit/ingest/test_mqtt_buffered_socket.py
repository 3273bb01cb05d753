"""The MQTT source's buffered socket: paho's small reads served from one large recv()."""

from __future__ import annotations

import socket

import pytest

from groundwatch.ingest.paho_adapter import BufferedSocket


def test_small_reads_come_from_one_recv_and_pending_counts_the_rest() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        a.sendall(b"\x32\x05hello" + b"\x40\x02\x00\x01")
        sock = BufferedSocket(b)
        assert sock.recv(1) == b"\x32"  # paho: the command octet
        assert sock.pending() == 10  # everything else is read already
        assert sock.recv(1) == b"\x05"  # a length octet
        assert sock.recv(5) == b"hello"
        assert sock.recv(100) == b"\x40\x02\x00\x01"  # never more than is buffered
        assert sock.pending() == 0
        with pytest.raises(BlockingIOError):  # paho's "try again later"
            sock.recv(1)
        a.sendall(b"xy")
        assert sock.recv(1) == b"x" and sock.recv(1) == b"y"
        assert sock.fileno() == b.fileno()  # everything else is the socket's


def test_a_closed_peer_reads_as_empty() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(b"z")
        a.close()
        sock = BufferedSocket(b)
        assert sock.recv(1) == b"z"
        assert sock.recv(1) == b""  # paho: connection lost
