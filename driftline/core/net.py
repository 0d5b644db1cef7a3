"""Small network helpers shared by the CLI, the demos and the tests.

>>> 0 < free_port() < 65536
True
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (never a fixed 8000 in demos and tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
