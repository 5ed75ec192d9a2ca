"""The probe script sent to a host: probe.sh plus the deviceQuery step and the nvinfer config
survey, one round trip."""

from __future__ import annotations

import shlex
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


# Once the state file records pyds: the version the host's python3 imports (the pyds steps' check).
PYDS_STEP = """
section pyds_import
if grep -qs '"pyds"' /var/lib/dsprov/state.json; then
    echo asked
    {command} 2>/dev/null
fi
"""

# Given items (`f:CONFIG`, `r:ROOT`) after the build folder: the engines step's config search (its
# FIND_SCRIPT) for the plugin's SONAME link, headed by the arguments it ran with, so that the step
# knows which question it answers.
CONFIG_SURVEY_STEP = """
section nvinfer_configs
if [ $# -gt 1 ]; then
    shift
    link=
    for f in "$lib"/libnvinfer_plugin.so.*; do
        case ${{f##*/libnvinfer_plugin.so.}} in *.*) ;; *) link=$f ;; esac
    done
    printf 'args\\t%s' "$link"; printf '\\t%s' "$@"; echo
    sh -c {find} survey "$link" "$@"
fi
"""


def probe_script() -> str:
    """The POSIX sh probe with the project's deviceQuery source and the config survey inlined."""
    from provision.steps.engines import FIND_SCRIPT  # the steps' own commands (the steps import the facts)
    from provision.steps.pyds import IMPORT

    probe = files("provision.facts").joinpath("probe.sh").read_text()
    source = files("provision.gpu").joinpath("devicequery.cu").read_text()
    return (probe + DEVICE_QUERY_STEP.format(source=source) + PYDS_STEP.format(command=IMPORT)
            + CONFIG_SURVEY_STEP.format(find=shlex.quote(FIND_SCRIPT)))
