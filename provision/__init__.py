"""Provision NVIDIA Jetson and x86 GPU hosts for DeepStream inference."""

__version__ = "0.1.0"
