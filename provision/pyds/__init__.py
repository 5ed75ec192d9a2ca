"""DeepStream Python bindings (pyds): which wheel a host's python3 accepts, and how to build it."""
