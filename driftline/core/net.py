"""Small network helpers shared by the CLI, the demos and the tests.

>>> 20_000 <= free_port() < 32_000
True
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_port"]

# Below Linux's ephemeral range (32768-60999), where the OS hands out ports to the many connections and listeners a
# Ray cluster opens (a port picked there was seen taken by one of them before Serve could bind it), and above Ray's
# worker ports (10002-19999 by default).
_LOW, _HIGH = 20_000, 32_000
_handed_out: set[int] = set()  # never the same port twice in one process (a caller may not have bound it yet)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (never a fixed 8000 in demos and tests)."""
    for port in random.sample(range(_LOW, _HIGH), 200):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # a crowded range: let the OS choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
