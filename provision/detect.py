"""Detect a host: send the probe once, keep its raw output (the capture), derive the facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from provision import __version__, settings
from provision.errors import ProvisionError
from provision.facts import HostFacts, host_facts, probe_script, split_sections
from provision.gpu.archs import GpuArchs, derive_gpu_archs
from provision.matrix import Matrix, Verdict
from provision.runners import Runner

@dataclass(frozen=True)
class Detection:
    host: str
    capture: str
    facts: HostFacts
    gpu_archs: GpuArchs
    verdicts: list[Verdict]


def capture(runner: Runner, build_dir: str | None = None) -> str:
    """Run the probe on the host (one round trip) and return its output, headed by a
    `capture` section that says where and when it was taken."""
    if build_dir:
        settings.absolute_path("dsprov_build_dir", build_dir)  # nothing may forge a section of the probe's output
    result = runner.run_script(probe_script(), *([build_dir] if build_dir else []), timeout=600)
    if "==> uname_m <==" not in result.stdout:
        raise ProvisionError(f"{runner.host}: the probe did not run: {result.tail(3) or 'no output'}")
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    header = f"==> capture <==\nhost: {runner.host}\ndate: {stamp}\ntool: dsprov {__version__}\n"
    return header + result.stdout


def analyse(host: str, text: str, gpu_archs: str | None = None, matrix: Matrix | None = None) -> Detection:
    """Facts, GPU_ARCHS and matrix verdicts from a capture (live or saved)."""
    matrix = matrix or Matrix.load()
    facts = host_facts(split_sections(text), matrix)
    archs = derive_gpu_archs(facts, gpu_archs, matrix.known_sms())
    return Detection(host, text, facts, archs, matrix.check(facts.stack()))


def read_capture(path: Path) -> tuple[str, str]:
    """A saved capture file -> (host named in it, text)."""
    try:
        text = path.read_bytes().decode()
    except OSError as exc:
        raise ProvisionError(f"cannot read capture {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ProvisionError(f"{path} is not a probe capture (not UTF-8 text: byte {exc.object[exc.start]:#04x}"
                             f" at offset {exc.start})") from None
    if "\0" in text:
        raise ProvisionError(f"{path} is not a probe capture (a NUL byte at offset {text.index(chr(0))})")
    sections = split_sections(text)
    if "uname_m" not in sections:
        raise ProvisionError(f"{path} is not a probe capture (no '==> uname_m <==' section)")
    host = next(
        (line.split(":", 1)[1].strip() for line in sections["capture"].splitlines() if line.startswith("host:")),
        path.stem,
    )
    return host, text
