"""The dashboard: a local web page to pick a scenario, move its levers, run it, and read the
results, comparisons and people's stories, served by Panel (Bokeh charts) on 127.0.0.1.

``socialcreditsim dashboard`` starts it (``cli.py``). The library never imports this package.
The browser reaches the machine only through the widgets of ``app.py``: it names built-in
scenarios, TOML files and run folders directly under the runs folder (chosen from lists the
server made, ``runsfolder.py``), never a path, SQL or code; every lever (``levers.py``) goes
through the scenario models the CLI uses. Every asset (Bokeh and Panel JavaScript and CSS) is
served by this server: nothing comes from the network.

- ``levers.py``: the editable fields, their units and docs;
- ``charts.py``: the Results view's Bokeh charts, tables and CSV downloads;
- ``jobs.py``: a run or comparison in a background thread, with its progress;
- ``runsfolder.py``: the entries of the runs folder the browser may name;
- ``app.py``: the page and the server.
"""

from .app import Dashboard, serve

__all__ = ["Dashboard", "serve"]
