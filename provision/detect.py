# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Detect a host: send the probe once, keep its raw output (the capture), derive the facts and
read them against the matrix."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import shlex
from importlib.resources import files
from pathlib import Path

from provision import __version__, input_files, validators
from provision.options import DEFAULT_BUILD_DIR
from provision.errors import ProvisionError
from provision.capabilities import REGISTRY
from provision.core.observed import Observed
from provision.core.detection import Detection
from provision.facts import Gpu, HostFacts, host_facts, split_sections
from provision.facts.parsers import to_version
from provision.gpu.archs import derive_gpu_archs
from provision.matrix import Matrix, Stack
from provision.runners import Runner
from provision.state import SAVED_DIR, STATE_FILE, State

# deviceQuery compiled and run once per boot, driver, CUDA toolkit and source: its output is kept in
# the login user's ${XDG_CACHE_HOME:-~/.cache}/dsprov/probe/device_query under a key made of the boot id,
# the driver's version (/proc/driver/nvidia/version, /sys/module/nvidia/version, L4T's release line,
# nvidia-smi's answer), `nvcc --version` and the source's SHA-256 (device_query.key: those lines); a
# failed compile is not kept.
DEVICE_QUERY = """\
section device_query
if has nvcc; then
    dq_cache=${{XDG_CACHE_HOME:-${{HOME:-/nonexistent}}/.cache}}/dsprov/probe
    dq_key=$(for f in /proc/sys/kernel/random/boot_id /proc/driver/nvidia/version /sys/module/nvidia/version \\
                      /etc/nv_tegra_release; do [ -r "$f" ] && IFS= read -r l < "$f" && printf '%s\\n' "$l"; done
             printf '%s\\n' "$out" "$nvcc_out" {digest})
    dq_seen=  # the key as kept (read by the shell: no process started)
    [ -r "$dq_cache/device_query.key" ] && while IFS= read -r l; do dq_seen="$dq_seen$l
"; done < "$dq_cache/device_query.key"
    dq_seen=${{dq_seen%?}}
    if [ "$dq_seen" = "$dq_key" ] && [ -r "$dq_cache/device_query" ]; then
        cat "$dq_cache/device_query"
    else
        dq=$(mktemp -d 2>/dev/null || echo "/tmp/dsprov-dq.$$")
        mkdir -p "$dq" && cat >"$dq/devicequery.cu" <<'DSPROV_DEVICEQUERY_EOF'
{source}DSPROV_DEVICEQUERY_EOF
        if nvcc -o "$dq/devicequery" "$dq/devicequery.cu" >"$dq/nvcc.log" 2>&1; then
            {{ "$dq/devicequery" 2>&1 || echo "deviceQuery exit status: $?"; }} > "$dq/out"
            cat "$dq/out"
            if (umask 077; mkdir -p "$dq_cache") 2>/dev/null && cp "$dq/out" "$dq_cache/device_query.$$" 2>/dev/null &&
                mv -f "$dq_cache/device_query.$$" "$dq_cache/device_query"; then
                printf '%s\\n' "$dq_key" > "$dq_cache/device_query.key"
            fi
        else
            echo "nvcc failed to build deviceQuery:"; cat "$dq/nvcc.log"
        fi
        rm -rf "$dq"
    fi
fi
"""


@functools.cache
def probe_script() -> str:
    """The one probe (one round trip): the paths it reads (provision/state.py), probe.sh's host
    facts, the project's deviceQuery source compiled and run (once per boot and driver), then each registered capability's
    fragment (provision/capabilities/__init__.py). Made once per process (every host gets the same)."""
    probe = files("provision.facts").joinpath("probe.sh").read_text()
    source = files("provision.gpu").joinpath("devicequery.cu").read_text()
    digest = hashlib.sha256(source.encode()).hexdigest()
    body = probe + DEVICE_QUERY.format(source=source, digest=digest) + "".join(c.probe for c in REGISTRY)
    # PROBE_SHA256: a part of the key of every section the probe keeps (probe.sh's `cached`)
    return (f"STATE_FILE={shlex.quote(STATE_FILE)}\nSAVED_DIR={shlex.quote(SAVED_DIR)}\n"
            f"PROBE_SHA256={hashlib.sha256(body.encode()).hexdigest()}\n" + body)


def capture(runner: Runner, build_dir: str | None = None, config_search: tuple[str, ...] = ()) -> str:
    """Run the probe on the host (one round trip) and return its output, headed by a
    `capture` section that says where and when it was taken. `config_search`: the engines step's
    items (`f:CONFIG`, `r:ROOT`), searched by the probe too so that a rerun asks nothing more."""
    if build_dir:
        validators.absolute_path("dsprov_build_dir", build_dir)  # nothing may forge a section of the probe's output
    args = [build_dir or DEFAULT_BUILD_DIR, *config_search]
    result = runner.run_script(probe_script(), *args, timeout=600)
    if "==> uname_m <==" not in result.stdout:
        raise ProvisionError(f"{runner.host}: the probe did not run: {result.tail(3) or 'no output'}")
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    header = f"==> capture <==\nhost: {runner.host}\ndate: {stamp}\ntool: dsprov {__version__}\n"
    return header + result.stdout


def analyse(host: str, text: str, gpu_archs: str | None = None, matrix: Matrix | None = None) -> Detection:
    """Facts, GPU_ARCHS and matrix verdicts from a capture (live or saved)."""
    matrix = matrix or Matrix.load()
    sections = split_sections(text)
    facts = with_matrix(host_facts(sections, lambda model: matrix.device_for(model, ()) is not None), matrix)
    archs = derive_gpu_archs(facts, gpu_archs, matrix.known_sms())
    return Detection(host, text, facts, archs, matrix.check(stack(facts)))


def observed(detection: Detection) -> Observed:
    """What the probe saw, for the checks before the lock: the state file (strictly parsed: a file
    the steps cannot act on is refused here) and each capability's view of its sections."""
    sections = split_sections(detection.capture)
    return Observed(detection.facts, State.parse(detection.host, sections["dsprov_state"]),
                    {c.name: c.observe(sections) for c in REGISTRY if c.observe})


def with_matrix(facts: HostFacts, matrix: Matrix) -> HostFacts:
    """The facts with what the matrix's tables make of them: a Jetson's family, JetPack and compute
    capability, a GPU's compute capability from its name; what they cannot place becomes a warning."""
    warnings = list(facts.warnings)
    jetson = facts.jetson
    if jetson is not None:
        device = matrix.device_for(jetson.model, jetson.compatible)
        if device is None:
            warnings.append(f"Jetson model {jetson.model!r} is not in the matrix's device table")
        row = matrix.jetpack_for_l4t(jetson.l4t) if jetson.l4t is not None else None
        unknown = jetson.unknown
        if jetson.l4t is not None and row is None:
            warnings.append(f"L4T {jetson.l4t} is not in the matrix: JetPack unknown")
            unknown = ("JetPack", *unknown)
        jetson = dataclasses.replace(
            jetson, family=device.family if device else None, jetpack=row.version if row else None,
            compute_cap=device.compute_capability if device else None, unknown=unknown,
        )
        if "board" in unknown:  # no /etc/nv_tegra_release
            where = f" (inside a {jetson.container} container)" if jetson.container else ""
            found = f"L4T {jetson.l4t} from the nvidia-l4t-* packages" if jetson.l4t else "no nvidia-l4t-* package"
            warnings.append(
                f"Jetson recognised from the device tree{where} without /etc/nv_tegra_release; {found};"
                f" unknown: {', '.join(unknown)} (CUDA, TensorRT and DeepStream come from what is installed here;"
                " `invoke matrix.check --jetpack X` judges a JetPack)"
            )
    gpus = tuple(
        dataclasses.replace(gpu, compute_cap=matrix.compute_capability_for_gpu_name(gpu.name),
                            source="nvidia-smi name + GPU table")
        if gpu.source == "nvidia-smi" and gpu.compute_cap is None else gpu
        for gpu in facts.gpus
    )
    if not gpus and jetson is not None and jetson.compute_cap:
        gpus = (Gpu(0, jetson.model or jetson.family or "Jetson", jetson.compute_cap, "model table"),)
    if not gpus:
        warnings.append("no NVIDIA GPU found (no deviceQuery result, no nvidia-smi, no Jetson model)")
    return dataclasses.replace(facts, jetson=jetson, gpus=gpus, warnings=tuple(warnings))


def stack(facts: HostFacts) -> Stack:
    """The version stack the matrix checks."""
    jetson = facts.jetson
    return Stack(
        platform=facts.platform,
        family=jetson.family if jetson else None,
        l4t=jetson.l4t if jetson else None,
        jetpack=jetson.jetpack if jetson else None,
        cuda=facts.cuda,
        tensorrt=facts.tensorrt,
        deepstream=facts.deepstream,
        python=facts.python,
        ubuntu=to_version(facts.os_version) if facts.os_id == "ubuntu" else None,
        driver=to_version(facts.driver),
        compute_caps=tuple(sorted({g.compute_cap for g in facts.gpus if g.compute_cap})),
    )


def read_capture(path: Path) -> tuple[str, str]:
    """A saved capture file -> (host named in it, text)."""
    data = input_files.read_bytes(path, "capture", input_files.CAPTURE)
    try:
        text = data.decode()
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
