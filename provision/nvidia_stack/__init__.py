"""The NVIDIA stack under DeepStream on a bare host (`provision --deepstream`): the probe's part
and its parser (facts.py), and the pure planner of the apt commands (apt_plan.py)."""
