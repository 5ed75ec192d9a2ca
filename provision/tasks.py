# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The product's task collection, the installed `dsprov` (provision/cli.py) and, with the
development tasks, `invoke` in a checkout (tasks.py): parse options, call `provision.commands`."""

from __future__ import annotations

import functools
import inspect

from invoke import Collection, Executor, Exit

from provision import commands
from provision.cancel import EXIT_CANCELLED
from provision.errors import ProvisionError
from provision.options import DETECT_FLAGS, FLEET_FLAGS, MODEL_FLAGS, PROVISION_FLAGS, PYDS_FLAGS, Flags, flag_fields
from provision.task_args import task


def _cli(func):
    """Run a command; a ProvisionError becomes one line on stderr and exit code 2, a Ctrl-C that
    the command does not handle itself (provision and pyds do: provision/cancel.py) exit 130."""

    @functools.wraps(func)
    def wrapper(c, *args, **kwargs):
        try:
            code = func(c, *args, **kwargs)
        except ProvisionError as exc:
            raise Exit(f"error: {exc}", code=2) from None
        except KeyboardInterrupt:
            raise Exit("cancelled (Ctrl-C)", code=EXIT_CANCELLED) from None
        if code:
            raise Exit(code=code)

    return wrapper


class OneDocument(Executor):
    """invoke's executor, refusing a chain of tasks (`detect --json provision`) where one of them
    prints --json: stdout is then one JSON document. `dsprov` (provision/cli.py) and the checkout's
    `invoke` (invoke.yaml: tasks.executor_class) use it."""

    def execute(self, *tasks):
        calls = self.normalize(tasks)
        if len(calls) > 1 and any(call.kwargs.get("json") for call in calls):
            given = ", ".join(call.called_as or call.task.name for call in calls)
            raise Exit(f"error: --json prints one document: run one task per invocation (given: {given})", code=2)
        return super().execute(*tasks)


def with_flags(names: tuple[str, ...]):
    """Give a task the options table's flags `names` (provision/options.py): invoke sees each as a
    parameter with the table's default, and the task gets them checked, as one `flags: Flags`."""
    fields = flag_fields(names)

    def decorate(func):
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "flags"]
        added = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default) for f in fields]

        @functools.wraps(func)
        def wrapper(c, *args, **kwargs):
            given = {name: kwargs.pop(name, None) for name in names}
            return func(c, *args, flags=Flags.parse(given), **kwargs)

        wrapper.__signature__ = inspect.Signature(own + added)
        return wrapper

    return decorate


def flag_help(names: tuple[str, ...]) -> dict[str, str]:
    """invoke's help for the flags `names`, from the options table."""
    return {f.name.replace("_", "-"): f.metadata["help"] for f in flag_fields(names)}


HOST = "inventory host name ('localhost' runs here)"
INVENTORY = "Ansible inventory file or folder (default: $ANSIBLE_INVENTORY, else inventory/ here)"


@task(
    help={
        "host": HOST,
        "capture": "derive the facts offline from a saved capture file instead",
        "inventory": INVENTORY,
        "json": "print machine-readable facts",
        **flag_help(DETECT_FLAGS),
    },
)
@_cli
@with_flags(DETECT_FLAGS)
def detect(c, host=None, capture=None, inventory=None, json=False, flags=None):
    """Show a host's facts, GPU_ARCHS and compatibility verdicts (one probe round trip)."""
    return commands.detect(host, capture, inventory, json, flags.gpu_archs)


@task(
    name="capture",
    help={"host": HOST, "out": "file to write (default: stdout)", "inventory": INVENTORY},
)
@_cli
def capture_(c, host, out=None, inventory=None):
    """Save a host's raw probe output (a capture) for offline `detect --capture`."""
    return commands.save_capture(host, out, inventory)


@task(
    name="check",
    help={
        "host": HOST,
        "capture": "check a saved capture",
        "inventory": INVENTORY,
        "json": "print verdicts as JSON",
        "platform": "what-if platform: jetson or x86 (jetson when --jetpack/--l4t given)",
        **{name: f"what-if {name} version" for name in commands.WHAT_IF_FIELDS},
    },
)
@_cli
def matrix_check(
    c, host=None, capture=None, inventory=None, json=False, platform=None,
    l4t=None, jetpack=None, cuda=None, tensorrt=None, deepstream=None, python=None, ubuntu=None, driver=None,
):
    """Check a host, a capture or a what-if version combination against the matrix."""
    return commands.matrix_check(
        host, capture, inventory, json, platform,
        l4t=l4t, jetpack=jetpack, cuda=cuda, tensorrt=tensorrt, deepstream=deepstream,
        python=python, ubuntu=ubuntu, driver=driver,
    )


@task(
    help={
        "host": HOST,
        "hosts": "several hosts or inventory groups, comma-separated (e.g. nano01,xavier or nano)",
        "inventory": INVENTORY,
        "dry-run": "print the plan with its exact commands; change nothing",
        "json": "print the per-host reports as JSON",
        "log-dir": "per-host logs folder (default ~/.cache/dsprov/logs)",
        **flag_help(PROVISION_FLAGS + FLEET_FLAGS),
    },
)
@_cli
@with_flags(PROVISION_FLAGS + FLEET_FLAGS)
def provision(c, host=None, hosts=None, inventory=None, dry_run=False, json=False, log_dir=None, flags=None):
    """Build the TensorRT OSS plugin and swap it in, on one host or a fleet (matrix-checked first)."""
    if bool(host) == bool(hosts):
        raise Exit("error: give exactly one of --host or --hosts", code=2)
    return commands.provision(host or hosts, flags, inventory, dry_run, json, log_dir)


@task(help={"host": HOST, "inventory": INVENTORY, "json": "print the report as JSON"})
@_cli
def rollback(c, host, inventory=None, json=False):
    """Restore the host's original libnvinfer_plugin (same SHA-256) saved by provision, and the power mode and clocks before --max-clocks."""
    return commands.rollback(host, inventory, json)


matrix = Collection("matrix")
matrix.add_task(matrix_check)

ns = Collection(detect, capture_, provision, rollback, matrix)


@task(
    iterable=["config", "root"],
    help={
        "host": HOST,
        "config": "an nvinfer or deepstream-app config on the host (repeatable); without --root only these are looked at",
        "root": "a folder to search for nvinfer and deepstream-app configs (repeatable; default: dsprov_engine_roots or "
                "/opt/nvidia/deepstream/deepstream/samples; ~ is searched only when given)",
        "inventory": INVENTORY,
        "dry-run": "classify the engines and print the commands; change nothing",
        "json": "print the per-engine report as JSON",
    },
)
@_cli
def engines(c, host, config=None, root=None, inventory=None, dry_run=False, json=False):
    """Find a host's DeepStream nvinfer and deepstream-app configs; check each app config's model graph;
    rebuild stale or missing TensorRT engines with trtexec."""
    return commands.engines(host, tuple(config or ()), tuple(root or ()), inventory, dry_run, json)


ns.add_task(engines)


@task(
    name="config",
    help={
        "host": HOST,
        "kind": "model kind: dino (also ddetr), yolov4 (TAO), yolo (DeepStream-Yolo exports: YOLOv5/v7/v8 and later)"
                " or yolov7 (yolo_deepstream)",
        "onnx": "the model's ONNX file on the host (absolute path)",
        "coco": "a COCO annotation JSON on this machine: its categories give the labels",
        "out": "where the nvinfer config goes on the host (absolute path)",
        "labels": "labels file on the host (default: labels.txt beside the config)",
        "batch-size": "batch size (default 1; --streams says it for a primary model)",
        "precision": "fp32, fp16 (default) or int8; lowered where the GPU cannot run it",
        "dims": "infer-dims C;H;W (default 3;544;960, YOLO kinds 3;640;640)",
        "calib": "INT8 calibration cache on the host (int8-calib-file)",
        "parser-lib": "custom library path (default: DeepStream's lib/libnvds_infercustomparser_tao.so; YOLO kinds:"
                      " nvdsinfer_custom_impl_Yolo/libnvdsinfer_custom_impl_Yolo.so beside the config)",
        "inventory": INVENTORY,
        "dry-run": "print the config, labels and custom library steps; change nothing",
        "json": "print the result as JSON",
        **flag_help(MODEL_FLAGS),
    },
)
@_cli
@with_flags(MODEL_FLAGS)
def deepstream_config(c, host, kind, onnx, coco, out, labels=None, batch_size=None, precision="fp16", dims=None,
                      calib=None, parser_lib=None, inventory=None, dry_run=False, json=False, flags=None):
    """Write an nvinfer config + labels for a DINO/YOLOv4/YOLO model; build its custom library if missing."""
    given = {"--kind": kind, "--onnx": onnx, "--coco": coco, "--out": out, "--labels": labels, "--batch-size": batch_size,
             "--precision": precision, "--dims": dims, "--calib": calib, "--parser-lib": parser_lib}
    return commands.deepstream_config(host, given, inventory, dry_run, json, flags)


deepstream = Collection("deepstream")
deepstream.add_task(deepstream_config)
ns.add_collection(deepstream)


@task(
    help={
        "host": HOST,
        "hosts": "several hosts or inventory groups, comma-separated",
        "inventory": INVENTORY,
        "dry-run": "print the plan with its exact commands; change nothing",
        "json": "print the per-host reports as JSON",
        "log-dir": "per-host logs folder (default ~/.cache/dsprov/logs)",
        **flag_help(PYDS_FLAGS + FLEET_FLAGS),
    },
)
@_cli
@with_flags(PYDS_FLAGS + FLEET_FLAGS)
def pyds(c, host=None, hosts=None, inventory=None, dry_run=False, json=False, log_dir=None, flags=None):
    """Build the DeepStream Python bindings for the host's DeepStream and python3; install and import them."""
    if bool(host) == bool(hosts):
        raise Exit("error: give exactly one of --host or --hosts", code=2)
    return commands.pyds(host or hosts, flags, inventory, dry_run, json, log_dir)


ns.add_task(pyds)


@task(
    name="report",
    help={
        "out": "the HTML file to write (one self-contained page)",
        "hosts": "hosts or inventory groups, comma-separated (default: every inventory host with -i, else every"
                 " host with a run record)",
        "inventory": INVENTORY,
        "refresh": "probe the hosts first (one round trip each) and record what they say",
    },
)
@_cli
def fleet_report(c, out, hosts=None, inventory=None, refresh=False):
    """Write one offline HTML page of the fleet from the newest run records: stack, plugin, engines, matrix, drift."""
    from provision.fleet_report.command import report

    return report(out, hosts, inventory, refresh)


ns.add_task(fleet_report)
