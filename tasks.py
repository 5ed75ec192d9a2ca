# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""invoke tasks of a checkout: the product's collection (provision/tasks.py, which is also the
installed `dsprov`) and the development tasks that need the simulated fleet (simfleet/, a package
of its own that the wheel does not hold): `fleet.up`, `fleet.down`, `demo`."""

import sys

# invoke turns Python's bytecode cache off before it imports this file (invoke/program.py, unless
# --write-pyc), which keeps a tasks.pyc out of a project; the product's modules then compiled anew
# on every run (about 90 files, 0.1 CPU s). Their __pycache__ folders are git-ignored.
sys.dont_write_bytecode = False

from provision.library_warnings import silence_library_warnings  # noqa: E402
from provision.startup_gc import loading  # noqa: E402

silence_library_warnings()  # before the task collection imports ansible-core and paramiko

from invoke import Collection  # noqa: E402

with loading():  # the product's modules, frozen out of the garbage collector's passes
    from provision.errors import ProvisionError
    from provision.task_args import task
    from provision.tasks import _cli
    from provision.tasks import ns as product


def _simfleet():
    """simfleet.demo, or one line saying how to install the simulated fleet."""
    try:
        from simfleet import demo
    except ImportError:
        raise ProvisionError("the simulated fleet is not installed: run `pip install -e ./simfleet`"
                             " (`bash .ci/setup` does)") from None
    return demo


@task(name="up", help={"file": "fleet file (default: simfleet/fleets/demo.yml)"})
@_cli
def fleet_up(c, file=None):
    """Start the simulated device fleet (sshd per device) and write its Ansible inventory."""
    return _simfleet().fleet_up(file)


@task(name="down", help={"name": "fleet name or runtime folder (default: demo)"})
@_cli
def fleet_down(c, name="demo"):
    """Stop the simulated fleet: no process, mount or namespace is left behind."""
    return _simfleet().fleet_down(name)


@task
@_cli
def demo(c):
    """Main job on the simulated fleet: start it, detect and provision every device."""
    return _simfleet().demo()


ns = Collection(demo, Collection("fleet", fleet_up, fleet_down))  # invoke looks for `ns` here
for product_task in product.tasks.values():
    ns.add_task(product_task)
for collection in product.collections.values():
    ns.add_collection(collection)
