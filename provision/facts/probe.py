"""The probe script sent to a host: probe.sh plus the deviceQuery step, one round trip."""

from __future__ import annotations

from importlib.resources import files

DEVICE_QUERY_STEP = """\
dq=$(mktemp -d 2>/dev/null || echo "/tmp/dsprov-dq.$$")
mkdir -p "$dq" && cat >"$dq/devicequery.cu" <<'DSPROV_DEVICEQUERY_EOF'
{source}DSPROV_DEVICEQUERY_EOF
if has nvcc; then
    if nvcc -o "$dq/devicequery" "$dq/devicequery.cu" >"$dq/nvcc.log" 2>&1; then
        "$dq/devicequery" 2>&1 || echo "deviceQuery exit status: $?"
    else
        echo "nvcc failed to build deviceQuery:"; cat "$dq/nvcc.log"
    fi
fi
rm -rf "$dq"
"""


def probe_script() -> str:
    """The POSIX sh probe with the project's deviceQuery source inlined."""
    probe = files("provision.facts").joinpath("probe.sh").read_text()
    source = files("provision.gpu").joinpath("devicequery.cu").read_text()
    return probe + DEVICE_QUERY_STEP.format(source=source)
