# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller downloads that can neither hang nor grow without bound.

A download is abandoned when it stalls (provision/stall.py: under LOW_SPEED_LIMIT bytes/s over a
window of `stall_timeout` seconds), the moment it exceeds its expected size, and at a cancel
(Ctrl-C). urllib3's `read1` returns whatever has arrived, so a trickling server cannot keep a
read waiting for a full buffer (a plain `iter_content(65536)` waits for 64 KiB: at one byte every
2 s, forever, while each byte resets the socket timeout).
"""

from __future__ import annotations

from typing import IO

from provision import cancel
from provision.errors import ProvisionError
from provision.stall import LOW_SPEED_LIMIT, RateWindow

DEFAULT_CAP = 256 << 20  # bytes: a download whose size is not pinned stops here (cmake archives are ~50 MB)
CHUNK = 1 << 16


class DownloadFailed(ProvisionError):
    """A download was refused or abandoned; nothing of it is kept."""


def download(url: str, out: IO[bytes], stall_timeout: float, size: int | None = None, cap: int = DEFAULT_CAP) -> int:
    """Write `url` to `out`; the byte count. DownloadFailed (one line) on an HTTP error, a stall, a
    cancel, or more bytes than `size` (when known) or `cap`."""
    import requests  # here: a run that downloads nothing (a no-op) does not load it (~0.1 CPU s)
    import urllib3

    limit = size if size is not None else cap
    window = RateWindow(stall_timeout)
    got = 0
    try:
        with requests.get(url, stream=True, timeout=stall_timeout) as response:
            response.raise_for_status()
            announced = response.headers.get("Content-Length", "")
            if announced.isascii() and announced.isdecimal() and int(announced) > limit:
                raise DownloadFailed(f"{url}: the server announces {int(announced)} bytes, more than the"
                                     f" {_expected(size, cap)}: refused before downloading")
            while chunk := response.raw.read1(CHUNK, decode_content=True):
                got += len(chunk)
                if got > limit:
                    raise DownloadFailed(f"{url}: more than the {_expected(size, cap)} arrived: stopped")
                out.write(chunk)
                window.add(len(chunk))
                if window.stalled():
                    raise DownloadFailed(f"{url}: less than {LOW_SPEED_LIMIT} bytes/s for {stall_timeout:g} s:"
                                         " abandoned (stall limit: dsprov_stall_timeout)")
                if cancel.requested():
                    raise cancel.Cancelled(f"cancelled while downloading {url}")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DownloadFailed(f"cannot download {url}: {reason} (stall limit: dsprov_stall_timeout)") from None
    if size is not None and got != size:
        raise DownloadFailed(f"{url}: {got} bytes arrived, {size} expected")
    return got


def _expected(size: int | None, cap: int) -> str:
    return f"expected {size} bytes" if size is not None else f"{cap} bytes allowed for a file of unpinned size"
