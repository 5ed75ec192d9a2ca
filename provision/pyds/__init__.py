"""DeepStream Python bindings (pyds): which wheel a host's python3 accepts (pure). Its build, plan
and steps are in provision/capabilities/ (pyds_build.py, pyds_plan.py, pyds.py)."""
