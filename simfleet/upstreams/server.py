# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small local HTTP server (stdlib ``http.server`` in a thread) for fixture upstreams.

It serves files only: cmake archives and their SHA-256 file, and the bare git repositories
through git's "dumb" HTTP protocol (the fixture repos carry ``info/refs``; clone with
``git clone http://127.0.0.1:<port>/git/NVIDIA/TensorRT.git``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files, no request log, bounded socket waits."""

    timeout = 30  # seconds a client may stall a connection

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def serve(directory: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``directory`` on ``host`` (ephemeral port by default); return ``(url, stop)``.

    ``url`` has no trailing slash. ``stop()`` shuts the server down, closes its socket and
    joins the thread; calling it twice is harmless.
    """
    handler = functools.partial(_QuietHandler, directory=str(Path(directory).resolve()))
    server = _Server((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"upstreams-http-{server.server_address[1]}", daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return f"http://{host}:{server.server_address[1]}", stop
