# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version matrix's YAML files, installed as the data package `provision.matrix.data`
(pyproject.toml maps it onto this folder; `Matrix.load()` reads it with importlib.resources)."""
