"""A listening TCP socket for sfsync's servers (the local org, ``sfsync serve``).

Bound before the server starts, so the URL (with the port 0 picked) is known early and clients that connect
early wait in the backlog instead of being refused.
"""

from __future__ import annotations

import socket


def listen_socket(host: str, port: int, backlog: int = 512) -> socket.socket:
    """Listen on ``host:port``; an ``OSError`` saying ``cannot listen on HOST:PORT: reason`` when that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns TCP_NODELAY on only for sockets that say TCP, and without it a response
    # written in two parts (headers, body) waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock
