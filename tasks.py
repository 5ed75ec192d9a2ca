"""invoke tasks from a checkout: the collection lives in `provision/tasks.py`."""

from provision.tasks import ns  # noqa: F401  (invoke looks for `ns` here)
