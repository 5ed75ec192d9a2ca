"""The `dsprov` console command: invoke's Program over the task collection of provision/tasks.py,
so `dsprov provision ...` and `invoke provision ...` (in a checkout) take the same tasks and flags."""

from importlib.metadata import version

from provision.library_warnings import silence_library_warnings

DISTRIBUTION = "deepstream-provision"


def main() -> None:
    silence_library_warnings()  # before the task collection imports ansible-core and paramiko
    from invoke import Program

    from provision.tasks import OneDocument, ns

    Program(namespace=ns, name="dsprov", binary="dsprov", version=version(DISTRIBUTION),
            executor_class=OneDocument).run()
