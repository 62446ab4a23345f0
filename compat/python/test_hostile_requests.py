"""Requests that used to end the release binary (a panic in warp's path
filter, with panic = "abort"): CONNECT over HTTP/1.1 and over HTTP/2 with
prior knowledge, and a HEADERS frame without :path. Each gets an answer (or
a refused stream) and the server goes on: checked here against the release
build that ships, which the Rust tests (debug builds) are not."""

import socket
import struct
import urllib.parse

from conftest import call


def _address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port


def _read_some(sock: socket.socket, at_least: int) -> bytes:
    seen = b""
    sock.settimeout(10)
    while len(seen) < at_least:
        try:
            data = sock.recv(4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    return seen


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _h2c(url: str, header_block: bytes) -> bytes:
    """Sends one HEADERS frame over a prior-knowledge HTTP/2 connection and
    returns what the server wrote back."""
    with socket.create_connection(_address(url)) as sock:
        sock.sendall(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
            + _frame(0x4, 0, 0, b"")  # SETTINGS
            + _frame(0x1, 0x5, 1, header_block)  # HEADERS, END_STREAM | END_HEADERS
        )
        return _read_some(sock, 64)


def _literal(index: int, value: bytes) -> bytes:
    """HPACK: a literal header field without indexing, with an indexed name."""
    return bytes([index, len(value)]) + value


def test_connect_over_http1_is_refused_and_the_server_lives(daehwa_url):
    with socket.create_connection(_address(daehwa_url)) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        answer = _read_some(sock, 12)
    assert answer.startswith(b"HTTP/1.1 405"), answer
    assert call("GET", daehwa_url + "/api/v1/health")[0] == 200


def test_connect_and_pathless_headers_over_h2c_leave_the_server_alive(daehwa_url):
    # :method CONNECT, :authority example.com:443 (no :path, as CONNECT has none).
    _h2c(daehwa_url, _literal(0x02, b"CONNECT") + _literal(0x01, b"example.com:443"))
    assert call("GET", daehwa_url + "/api/v1/health")[0] == 200
    # :method GET, :scheme http, :authority x, and no :path at all.
    _h2c(daehwa_url, bytes([0x82, 0x86]) + _literal(0x01, b"x"))
    assert call("GET", daehwa_url + "/api/v1/health")[0] == 200
