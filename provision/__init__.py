"""Provision NVIDIA Jetson and x86 GPU hosts for DeepStream inference."""

from pathlib import Path

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parent.parent
