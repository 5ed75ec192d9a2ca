# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report: a JSON record per host per run on the controller (records.py) and one offline
HTML page of every host from the newest records (page.py, templates/fleet.html.j2; `dsprov report`)."""
