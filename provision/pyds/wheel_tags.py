# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which wheel tags a host's python3 accepts, computed on the controller from its facts (pure).

The host's interpreter is CPython (the only one NVIDIA's bindings are built for) of the probed
`python3 --version`, on the probed `uname -m`, with the probed glibc (`getconf GNU_LIBC_VERSION`).
Tags follow packaging.tags (cpython_tags + compatible_tags) with the platforms pip uses on Linux:
`manylinux_2_<minor>_<arch>` from the host's glibc down to the oldest the architecture has, the
legacy aliases of PEP 600 (manylinux2014 = glibc 2.17, manylinux2010 = 2.12, manylinux1 = 2.5)
and `linux_<arch>` (packaging/tags.py `_linux_platforms`, packaging/_manylinux.py). On this
controller the result equals packaging.tags.sys_tags() (tests/test_pyds_tags.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from provision.facts import HostFacts

OLDEST_GLIBC_MINOR = {"x86_64": 5, "aarch64": 17}  # manylinux1 (x86_64 only), manylinux2014
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


@dataclass(frozen=True)
class Interpreter:
    """A host's python3 as wheel tags see it."""

    python: Version
    arch: str  # uname -m: aarch64 | x86_64
    glibc: Version | None

    @classmethod
    def from_facts(cls, facts: HostFacts) -> Interpreter | None:
        """The host's interpreter, or None when it has no python3 (or an unknown architecture)."""
        if facts.python is None or facts.arch not in OLDEST_GLIBC_MINOR:
            return None
        return cls(facts.python, facts.arch, facts.libc)

    @property
    def version(self) -> tuple[int, int]:
        return self.python.major, self.python.minor

    @property
    def abi(self) -> str:
        """cp36m before 3.8 (pymalloc builds, as Ubuntu's), cp38 and later without the flag."""
        major, minor = self.version
        return f"cp{major}{minor}" + ("m" if (major, minor) < (3, 8) else "")

    def platforms(self) -> list[str]:
        """Platform tags in packaging's order (26.x: linux_<arch> first, then manylinux newest first)."""
        out = [f"linux_{self.arch}"]
        if self.glibc is not None and self.glibc.major == 2:
            for minor in range(self.glibc.minor, OLDEST_GLIBC_MINOR[self.arch] - 1, -1):
                out.append(f"manylinux_2_{minor}_{self.arch}")
                if minor in LEGACY_MANYLINUX and (minor == 17 or self.arch == "x86_64"):
                    out.append(f"{LEGACY_MANYLINUX[minor]}_{self.arch}")
        return out

    def tags(self) -> list[Tag]:
        """Every tag this interpreter accepts, most preferred first."""
        platforms = self.platforms()
        major, minor = self.version
        return [
            *cpython_tags(self.version, abis=[self.abi], platforms=platforms),
            *compatible_tags(self.version, f"cp{major}{minor}", platforms),
        ]

    def describe(self) -> str:
        glibc = f"glibc {self.glibc}" if self.glibc else "glibc unknown"
        return f"CPython {self.python.major}.{self.python.minor} ({self.abi}) on linux_{self.arch}, {glibc}"


@dataclass(frozen=True)
class WheelVerdict:
    """Whether a wheel installs on the interpreter; `reason` says which tag matched or why none did."""

    wheel: str
    ok: bool
    reason: str
    tag: Tag | None = None


def _platform_summary(interpreter: Interpreter) -> str:
    many = [p for p in interpreter.platforms() if p.startswith("manylinux_")]
    parts = [f"linux_{interpreter.arch}"]
    if many:
        newest, oldest = many[0].split("_")[2], many[-1].split("_")[2]
        parts.append(f"manylinux_2_{oldest}..2_{newest}_{interpreter.arch}")
    return ", ".join(parts + ["any"])


def _why_not(tag: Tag, interpreter: Interpreter, accepted: set[Tag]) -> str:
    platforms = {t.platform for t in accepted}
    if tag.platform not in platforms:
        return f"platform {tag.platform} is not one it runs ({_platform_summary(interpreter)})"
    pythons = {t.interpreter for t in accepted if t.platform == tag.platform}
    if tag.interpreter not in pythons:
        return f"interpreter tag {tag.interpreter} is for another Python than {interpreter.python.major}.{interpreter.python.minor}"
    return f"ABI {tag.abi} is not {interpreter.abi}, abi3 or none"


def check_wheel(filename: str, interpreter: Interpreter) -> WheelVerdict:
    """Compare a wheel's file-name tags with what the interpreter accepts."""
    try:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        return WheelVerdict(filename, False, f"not a wheel file name: {exc}")
    accepted = interpreter.tags()
    match = next((t for t in accepted if t in wheel_tags), None)
    if match is not None:
        return WheelVerdict(filename, True, f"{filename}: tag {match} is accepted by {interpreter.describe()}", match)
    accepted_set = set(accepted)
    why = "; ".join(f"{t}: {_why_not(t, interpreter, accepted_set)}" for t in sorted(wheel_tags, key=str))
    return WheelVerdict(filename, False, f"{filename} does not fit {interpreter.describe()}: {why}")
