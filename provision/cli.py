"""The `dsprov` console command: invoke's Program over the task collection of provision/tasks.py,
so `dsprov provision ...` and `invoke provision ...` (in a checkout) take the same tasks and flags."""

from importlib.metadata import version

from invoke import Program

from provision.tasks import ns

DISTRIBUTION = "deepstream-provision"

program = Program(namespace=ns, name="dsprov", binary="dsprov", version=version(DISTRIBUTION))


def main() -> None:
    program.run()
