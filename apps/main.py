"""reawaken's Panel app: run ``panel serve apps/`` from the repository root, open /apps.

Reads the runs under ``runs/`` (or ``$REAWAKEN_RUNS``); every page lives in
``reawaken.app`` so notebooks and tests can use them without a server.
"""

import panel as pn

from reawaken.app.shell import App, runs_folder

pn.extension("tabulator", sizing_mode="stretch_width")

App(runs_dir=str(runs_folder())).servable_page().servable(title="reawaken")
