"""The fleet report: a JSON record per host per run on the controller (records.py) and one offline
HTML page of every host from the newest records (page.py, templates/fleet.html.j2; `dsprov report`)."""
