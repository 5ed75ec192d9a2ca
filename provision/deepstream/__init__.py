# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""DeepStream model files: nvinfer configs, labels, engine records (pure). The steps that write
them are in provision/capabilities/ (model_config.py, parser_lib.py, engines.py)."""
