"""Closing an instance's door before it stops, so that no connection it has been given is dropped.

A server that closes its listener while connections wait in the kernel's accept queue resets them,
after nginx may already have written a POST to them (which nginx, rightly, will not retry). So on
SIGTERM the server (vm_runtime.serve) closes the door first:

1. a socket filter drops new SYNs on the listener (a handshake under way completes);
2. it waits while the workers accept every connection already queued (the queue's length is the
   kernel's own count, TCP_INFO), and serves them;
3. the listener is closed, so a client's retried SYN is refused and nginx sends it to the other
   instance, request unsent;
4. in-flight requests finish (GRACEFUL_SECONDS), then the instance exits.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import time

SO_ATTACH_FILTER = 26
# Classic BPF over the TCP header: drop a segment whose flags have SYN without ACK, keep the rest.
_DROP_NEW_CONNECTIONS = [
    (0x30, 0, 0, 13),          # ldb [13]          TCP flags
    (0x54, 0, 0, 0x12),        # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),        # jeq #SYN, drop, keep
    (0x06, 0, 0, 0),           # ret #0            drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1           keep
]
HANDSHAKE_GRACE_SECONDS = 0.05
# struct tcp_info: 8 one-byte fields, then u32s; on a listening socket tcpi_unacked (the 5th u32)
# is the accept queue's current length (Linux, include/uapi/linux/tcp.h and tcp_get_info()).
_TCP_INFO_UNACKED = struct.Struct("8xIIIII")  # rto, ato, snd_mss, rcv_mss, unacked


def refuse_new_connections(listener: socket.socket) -> None:
    """Attach the SYN-dropping filter to a listening TCP socket (Linux)."""
    program = b"".join(struct.pack("HBBI", *insn) for insn in _DROP_NEW_CONNECTIONS)
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(_DROP_NEW_CONNECTIONS), ctypes.addressof(buffer))
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def queued(listener: socket.socket) -> int:
    """How many connections wait in the listener's accept queue (established, not yet accepted)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_UNACKED.size)
    return int(_TCP_INFO_UNACKED.unpack_from(info)[4])


def close_the_door(listener: socket.socket, patience_seconds: float = 5.0) -> int:
    """Steps 1 and 2: no new connection, and every queued one accepted by the workers.

    Returns how many were still queued when patience ran out (0 when the queue drained).
    """
    refuse_new_connections(listener)
    start = time.monotonic()
    while True:
        waiting = queued(listener)
        elapsed = time.monotonic() - start
        if (not waiting and elapsed >= HANDSHAKE_GRACE_SECONDS) or elapsed >= patience_seconds:
            return waiting
        time.sleep(0.005)
