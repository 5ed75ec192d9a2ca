# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller downloads against a real local HTTP server that trickles, lies about its size or
sends too much: abandoned on a rate over a window, stopped at the expected size, nothing kept."""

import functools
import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from provision.artifacts import fetch
from provision.downloads import DownloadFailed, download
from provision.stall import RateWindow
from provision.errors import ProvisionError

BODY = b"x" * 300_000
BODY_SHA = hashlib.sha256(BODY).hexdigest()
TRICKLE_BOUND = 60  # seconds a trickling response lasts at most (the server never outlives a test by more)


class Handler(BaseHTTPRequestHandler):
    """/trickle: one byte every 2 s; /big: BODY with no Content-Length; /announced: a Content-Length of 10 GB;
    anything else: BODY with its length."""

    def log_message(self, format, *args):  # noqa: A002 (stdlib name)
        pass

    def do_GET(self):
        self.send_response(200)
        if self.path == "/trickle":
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            deadline = time.monotonic() + TRICKLE_BOUND
            try:
                while time.monotonic() < deadline and not self.server.closing.is_set():
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    self.server.closing.wait(2)
            except OSError:
                pass  # the client gave up: what the test wants
            return
        if self.path == "/announced":
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            return
        if self.path != "/big":
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.closing = threading.Event()
    thread = threading.Thread(target=functools.partial(httpd.serve_forever, poll_interval=0.2), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.closing.set()
    httpd.shutdown()
    httpd.server_close()


def test_rate_window():
    window = RateWindow(5, limit=1000, started=0.0)
    for second in range(5):
        window.add(1, now=float(second))  # one byte a second: under 1000 bytes/s
        assert not window.stalled(now=second + 0.5)  # no whole window yet
    assert window.stalled(now=5.0)
    fast = RateWindow(5, limit=1000, started=0.0)
    for second in range(20):
        fast.add(5000, now=float(second))
        assert not fast.stalled(now=second + 0.5)
    assert fast.stalled(now=30.0)  # nothing for a whole window


def test_a_trickling_mirror_is_abandoned_after_the_window(server, tmp_path, monkeypatch):
    """One byte every 2 s never trips a socket timeout of 5 s; the rate over 5 s does."""
    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path))
    with pytest.raises(DownloadFailed, match=r"/trickle: less than 1000 bytes/s for 5 s: abandoned"):
        fetch(f"{server}/trickle", "0" * 64, "t.tar.gz", stall_timeout=5)
    assert os.listdir(tmp_path / "downloads" / ("0" * 64)) == []  # the partial file is gone


def test_a_download_stops_at_its_pinned_size(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path))
    with pytest.raises(DownloadFailed, match=r"/big: more than the expected 1000 bytes arrived: stopped"):
        fetch(f"{server}/big", BODY_SHA, "b.tar.gz", stall_timeout=5, size=1000)
    assert os.listdir(tmp_path / "downloads" / BODY_SHA) == []
    with pytest.raises(DownloadFailed, match=r"/file: the server announces 300000 bytes, more than the expected 10 bytes"):
        fetch(f"{server}/file", BODY_SHA, "b.tar.gz", stall_timeout=5, size=10)
    path = fetch(f"{server}/file", BODY_SHA, "b.tar.gz", stall_timeout=5, size=len(BODY))
    assert path.read_bytes() == BODY


def test_an_unpinned_download_has_a_cap(server, tmp_path):
    with pytest.raises(DownloadFailed, match=r"announces 10737418240 bytes, more than the 268435456 bytes allowed"):
        with open(tmp_path / "x", "wb") as out:
            download(f"{server}/announced", out, 5)
    with open(tmp_path / "y", "wb") as out, pytest.raises(DownloadFailed, match=r"more than the 1000 bytes allowed"):
        download(f"{server}/big", out, 5, cap=1000)
    assert (tmp_path / "y").stat().st_size <= 1000


def test_a_refused_connection_is_one_line(tmp_path):
    with open(tmp_path / "x", "wb") as out, pytest.raises(ProvisionError) as caught:
        download("http://127.0.0.1:9/x.tar.gz", out, 5)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("cannot download http://127.0.0.1:9/x.tar.gz: ")
