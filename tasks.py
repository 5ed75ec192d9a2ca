"""invoke tasks from a checkout: the collection lives in `provision/tasks.py`."""

from provision.library_warnings import silence_library_warnings

silence_library_warnings()  # before the task collection imports ansible-core and paramiko

from provision.tasks import ns  # noqa: E402,F401  (invoke looks for `ns` here)
