"""``edgefer web`` against clients that misbehave: a foreign Host header (DNS rebinding),
malformed requests, aborted connections. Each is answered (or logged) in one line, never
a traceback; the server keeps serving. Every connection goes to 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from edgefer.web import WebConfig, make_server


@pytest.fixture()
def server(tmp_path):
    vendor = tmp_path / "tasks-vision"
    (vendor / "wasm").mkdir(parents=True)
    (vendor / "vision_bundle.mjs").write_text("export {};\n")
    server = make_server(WebConfig(port=0, vendor=str(vendor)), on_report=lambda report: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _exchange(server, raw: bytes, whole: bool = False) -> bytes:
    """One raw request over a fresh connection; the status line of the answer (or all of it)."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer if whole else answer.split(b"\r\n", 1)[0]


def _get(server, host: str | None, path: str = "/config.json") -> bytes:
    headers = f"Host: {host}\r\n" if host is not None else ""
    return _exchange(server, f"GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode())


def test_host_header_must_name_this_server(server):
    port = server.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        assert b" 200 " in _get(server, host), host
    # A page on another site whose name now resolves to 127.0.0.1, or the wrong port.
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "localhost:notaport"):
        assert b" 421 " in _get(server, host), host
    assert b" 400 " in _get(server, None)


def test_malformed_requests_are_400_and_the_server_keeps_serving(server, caplog):
    port = server.server_address[1]
    host = f"Host: 127.0.0.1:{port}\r\n"
    bad = [
        b"NONSENSE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        f"POST /report HTTP/1.1\r\n{host}Content-Length: abc\r\n\r\n".encode(),
        f"POST /report HTTP/1.1\r\n{host}Content-Length: -5\r\n\r\n".encode(),
        f"POST /report HTTP/1.1\r\n{host}Content-Length: 99999999999999999999999\r\n\r\n".encode(),
        f"POST /report HTTP/1.1\r\n{host}Content-Length: 5\r\n\r\n{{{{{{".encode(),
        f"POST /report HTTP/1.1\r\n{host}Content-Length: 3000\r\n\r\n".encode() + b"[" * 3000,
    ]
    with caplog.at_level(logging.INFO):
        for raw in bad:
            # A one-word request line is HTTP/0.9 to http.server: the error page without a status line.
            answer = _exchange(server, raw, whole=True)
            assert b"Error code: 400" in answer or b"Error code: 505" in answer, (raw[:40], answer[:80])
        nul = [_exchange(server, f"GET {path} HTTP/1.1\r\n{host}\r\n".encode())
               for path in ("/\x00", "/vendor/\x00x", "/vendor/" + "x" * 5000)]
    assert all(b" 404 " in status for status in nul), nul
    assert b" 200 " in _get(server, f"127.0.0.1:{port}")
    assert "Traceback" not in caplog.text


def test_aborted_connection_is_one_quiet_line(server, caplog, capfd):
    port = server.server_address[1]
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            # A reset (not a polite close) while the model download is being sent.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.sendall(f"GET /models/emotion.tflite HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            conn.recv(1)
        assert b" 200 " in _get(server, f"127.0.0.1:{port}")  # served after the abort
    assert "Traceback" not in capfd.readouterr().err + caplog.text
    assert len([r for r in caplog.records if "edgefer web" in r.getMessage()]) <= 1


def test_empty_host_binds_loopback(tmp_path):
    vendor = tmp_path / "tasks-vision"
    (vendor / "wasm").mkdir(parents=True)
    (vendor / "vision_bundle.mjs").write_text("export {};\n")
    server = make_server(WebConfig(host="", port=0, vendor=str(vendor)))
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
