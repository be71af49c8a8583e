"""Test-only: refuse every outbound connection except loopback, for the whole Python process.

Put this folder first on PYTHONPATH of a server. Each refused attempt is appended (address and the
innermost stack frames) to the file named by UNIAVGEN_NET_LOG, so a test can say who tried.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback

_LOG = os.environ.get("UNIAVGEN_NET_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "", None}


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, target) -> None:
    if _LOG:
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"REFUSED {what} {target!r}\n{stack}\n")
    raise ConnectionRefusedError(f"network blocked by the UniAVGen tests: {what} {target!r}")


def _check(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        _refuse("connect", address)


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def connect(self, address):
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
if _LOG:
    with open(_LOG, "a", encoding="utf-8") as _f:
        _f.write(f"ACTIVE pid {os.getpid()}\n")
