"""Controller downloads that can neither hang nor grow without bound.

A download is abandoned when it moves fewer than LOW_SPEED_LIMIT bytes/s over any window of
`stall_timeout` seconds (no answer, or a trickle: git's http.lowSpeedLimit/lowSpeedTime, curl's
--speed-limit/--speed-time do the same), the moment it exceeds its expected size, and at a cancel
(Ctrl-C). urllib3's `read1` returns whatever has arrived, so a trickling server cannot keep a
read waiting for a full buffer (a plain `iter_content(65536)` waits for 64 KiB: at one byte every
2 s, forever, while each byte resets the socket timeout).
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import IO

import requests
import urllib3

from provision import cancel
from provision.errors import ProvisionError

DEFAULT_CAP = 256 << 20  # bytes: a download whose size is not pinned stops here (cmake archives are ~50 MB)
CHUNK = 1 << 16
LOW_SPEED_LIMIT = 1000  # bytes/s, as git's GIT_HTTP_LOW_SPEED_LIMIT on the hosts (StepContext.env)


class DownloadFailed(ProvisionError):
    """A download was refused or abandoned; nothing of it is kept."""


@dataclass
class RateWindow:
    """Bytes seen over the last `seconds`: stalled when a whole window moved under `limit` bytes/s."""

    seconds: float
    limit: int = LOW_SPEED_LIMIT
    started: float = field(default_factory=time.monotonic)
    seen: collections.deque = field(default_factory=collections.deque)  # (time, bytes)

    def add(self, count: int, now: float | None = None) -> None:
        self.seen.append((time.monotonic() if now is None else now, count))

    def stalled(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self.seen and self.seen[0][0] <= now - self.seconds:
            self.seen.popleft()
        if now - self.started < self.seconds:
            return False
        return sum(count for _, count in self.seen) < self.limit * self.seconds


def download(url: str, out: IO[bytes], stall_timeout: float, size: int | None = None, cap: int = DEFAULT_CAP) -> int:
    """Write `url` to `out`; the byte count. DownloadFailed (one line) on an HTTP error, a stall, a
    cancel, or more bytes than `size` (when known) or `cap`."""
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
