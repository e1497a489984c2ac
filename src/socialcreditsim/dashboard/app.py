"""The dashboard's page (one per browser session) and its server: the Scenario, Run, Results,
Compare, People and Runs views."""

from __future__ import annotations

import datetime as dt
import functools
import html
import importlib
import io
import re
import shutil
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
from bokeh.document import Document

from ..compare import CompareResults, Comparison, compare_folders
from ..engine import Sim
from ..memory import available_memory, estimate_memory
from ..replicates import MultiSim
from ..results import Results
from ..scenario import MAX_FILE_BYTES, Scenario, ScenarioError, builtin_scenarios, load_scenario
from .charts import (
    TABLE_CSS,
    Chart,
    csv_download,
    number,
    percent,
    png_download,
    run_charts,
    table_html,
)
from .jobs import Job
from .levers import (
    Lever,
    assignments,
    error_key,
    levers_for,
    more_multipliers,
    overrides,
    value_of,
)
from .people import audited_people
from .runsfolder import run_folders, safe_child
from .widgets import WIDTH, lever_widget

__all__ = ["Dashboard", "serve"]

AGENTS_CAP = 2_000_000  # above it only with "lift the cap": the memory estimate says the cost
TICK_MS = 250  # the page reads the progress of a run four times a second
PEOPLE_SHOWN = 500
SYNTHETIC = (
    "<b>The people are synthetic.</b> socialcreditsim runs social credit systems on synthetic"
    " populations built from distributions and aggregate statistics: it has no way to load real"
    " persons' identities or records and offers no way to look up or sanction a real person."
)
NOTE_STYLE = {"background": "#e2e3e5", "border-radius": "4px", "padding": "0 12px"}
VIEWS = ("Scenario", "Run", "Results", "Compare", "People", "Runs")
GIB = 2**30


def warm_up() -> None:
    """Import what showing results needs (the report's reader with matplotlib, SciPy: about
    three seconds) in the background, once per server, so that the first run's results do not
    wait for it; called when the first page has loaded, not to slow its loading."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(
            target=lambda: [importlib.import_module(m) for m in WARM_UP], daemon=True
        )
        _warming.start()


# what showing results needs first (the report's reader of run folders imports matplotlib)
WARM_UP = ("socialcreditsim.report", "socialcreditsim.disparities", "scipy.stats")
_warming: threading.Thread | None = None


@functools.cache
def builtin_names() -> tuple[str, ...]:
    """The built-in scenarios' names, read once per server."""
    return tuple(builtin_scenarios())


@functools.cache
def builtin(name: str) -> Scenario:
    """A built-in scenario, loaded once per server (a Scenario is frozen: sessions share it)."""
    return load_scenario(name)


class Dashboard:
    """One browser session's page."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs
        self.results: Results | None = None
        self.job: Job | None = None
        self.job_status: pn.pane.HTML | None = None  # where the job working shows its progress
        self.job_done: Callable[[Any], str] = str  # shows the job's result, says what it wrote
        self.base: Scenario
        self.scenario: Scenario | None = None
        self.build_scenario_view()
        self.build_run_view()
        self.build_results_view()
        self.build_compare_view()
        self.build_people_view()
        self.build_runs_view()
        self.views = [self.scenario_view, self.run_view, self.results_view, self.compare_view,
                      self.people_view, self.runs_view]  # fmt: skip
        # the first view is drawn with the page, the others when first opened (the browser
        # draws a sixth of the widgets before the levers take input); not dynamic tabs, which
        # redraw a hidden view with stylesheets from the CDN
        self.tabs = pn.Tabs(
            *zip(VIEWS, [self.scenario_view] + [pn.Column(sizing_mode="stretch_width")
                                                for _ in VIEWS[1:]], strict=True),
            dynamic=False,
        )  # fmt: skip
        self.tabs.param.watch(lambda e: self.open_view(e.new), "active")
        self.page = pn.Column(
            pn.pane.HTML("<h1>socialcreditsim dashboard</h1>"),
            pn.pane.HTML(SYNTHETIC, css_classes=["synthetic"], styles=NOTE_STYLE),
            self.tabs,
            sizing_mode="stretch_width",
            styles={"padding": "0 16px"},
        )
        self.load_base("national")

    def open_view(self, index: int) -> None:
        """Put a view in its tab the first time it is opened (its widgets exist from the start,
        so that the other views can fill them before), and make what it shows of the latest
        results: the chart picked, the people listed (costly, so only for an open view)."""
        holder = self.tabs.objects[index]
        if holder is not self.views[index] and not holder.objects:
            holder.objects = [self.views[index]]
        if VIEWS[index] == "Results":
            self.show_chart()
        elif VIEWS[index] == "People":
            self.refresh_people()

    def showing(self, view: str) -> bool:
        """Whether the view named is the one open."""
        return VIEWS[self.tabs.active] == view

    # ---------------------------------------------------------------- scenario
    def scenario_sources(self) -> dict[str, str]:
        """The scenarios offered: the built-in ones and the TOML files of the runs folder."""
        out = {f"{n} (built-in)": n for n in builtin_names()}
        if self.runs.is_dir():
            for p in sorted(self.runs.glob("*.toml")):
                out[f"{p.name} (runs folder)"] = f"file:{p.name}"
        return out

    def build_scenario_view(self) -> None:
        """The Scenario view: the scenario picked, its levers by section, its TOML."""
        self.source = pn.widgets.Select(
            name="Scenario", options=self.scenario_sources(), value="national"
        )
        self.source.param.watch(lambda e: e.new and self.load_base(e.new), "value")
        self.upload = pn.widgets.FileInput(accept=".toml", multiple=False)
        self.upload.param.watch(self.uploaded, "value")
        self.description = pn.pane.HTML("")
        self.levers: list[Lever] = []
        self.widgets: dict[str, Any] = {}
        self.errors: dict[str, pn.pane.HTML] = {}
        self.loaded: dict[str, Any] = {}  # each lever's value in the scenario picked
        self.cards: dict[str, pn.Card] = {}  # a section of levers each
        self.lever_box = pn.Column(sizing_mode="stretch_width")
        self.valid = pn.pane.HTML("", css_classes=["scenario-status"])
        self.toml_pane = pn.pane.HTML(
            "", visible=False, max_height=500, styles={"overflow": "auto"}
        )
        self.show_toml = pn.widgets.Toggle(name="Show TOML", width=140)
        self.show_toml.param.watch(lambda e: self.refresh_toml(), "value")
        self.download_toml = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self.scenario.to_toml().encode() if self.scenario else b""),
            filename="scenario.toml", label="Download TOML", width=160, button_type="primary",
        )  # fmt: skip
        self.scenario_view = pn.Column(
            pn.Row(self.source, pn.Column(pn.pane.HTML("<small>or open a TOML file (at most"
                                                       " 1 MB)</small>"), self.upload)),
            self.description,
            self.valid,
            pn.Row(self.show_toml, self.download_toml),
            self.lever_box,
            self.toml_pane,
        )  # fmt: skip

    def load_base(self, source: str) -> None:
        """Load a built-in scenario or a TOML file of the runs folder (``file:NAME``)."""
        try:
            if source.startswith("file:"):
                base = load_scenario(safe_child(self.runs, source.removeprefix("file:")))
            elif source in builtin_names():
                base = builtin(source)
            else:
                raise ValueError(f"{source!r}: not a built-in scenario")
        except (ScenarioError, ValueError) as exc:
            self.valid.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            return
        origin = next(k for k, v in self.source.options.items() if v == source)
        self.set_base(base, origin)

    def uploaded(self, event: Any) -> None:
        """Load an uploaded TOML file (at most MAX_FILE_BYTES, validated) as the scenario picked."""
        data = event.new
        if not data:
            return
        if len(data) > MAX_FILE_BYTES:
            self.valid.object = f"the file has {len(data):,} bytes; at most {MAX_FILE_BYTES:,}"
            return
        try:
            base = load_scenario(tomllib.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError, ScenarioError
            self.valid.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            return
        self.source.value = None if None in self.source.options else self.source.value
        self.set_base(base, "uploaded file")

    def set_base(self, base: Scenario, origin: str) -> None:
        """Show a scenario's levers, each at its value there, the scenario as picked. A section
        builds its widgets when first opened (a slider costs tens of milliseconds); until then
        its levers keep their values."""
        self.base, self.origin = base, origin
        self.description.object = f"<p><i>{html.escape(base.meta.description.strip())}</i></p>"
        self.levers = levers_for(base)
        self.loaded = {lv.key: value_of(base, lv) for lv in self.levers}
        self.widgets, self.errors, self.cards = {}, {}, {}
        for lv in self.levers:
            if lv.section not in self.cards:
                card = pn.Card(title=lv.section, collapsed=True, sizing_mode="stretch_width")
                card.param.watch(lambda e, s=lv.section: e.new or self.open_section(s),
                                 "collapsed")  # fmt: skip
                self.cards[lv.section] = card
        self.lever_box.objects = list(self.cards.values())
        self.open_section(self.levers[0].section)
        self.edited(None)

    def open_section(self, section: str) -> None:
        """Open a section of levers, building its widgets the first time (the groups' section
        ends with the multipliers a group could add)."""
        card = self.cards[section]
        if not card.objects:
            card.objects = [self.lever_row(lv) for lv in self.levers if lv.section == section]
            more = {lv.key: lv for lv in more_multipliers(self.base) if lv.section == section}
            if more:
                add = pn.widgets.Select(
                    name="Add a multiplier (1 until moved)", value="", width=WIDTH,
                    options={"": "", **{lv.label: lv.key for lv in more.values()}},
                    css_classes=["add-multiplier"],
                )  # fmt: skip
                add.param.watch(lambda e: e.new and self.add_lever(more[e.new], add), "value")
                card.append(add)
        card.collapsed = False

    def lever_row(self, lv: Lever) -> pn.Row:
        """A lever's widget beside its doc and the place of its error message."""
        w = lever_widget(lv, self.loaded[lv.key], self.base.time.start)
        w.param.watch(lambda e, k=lv.key: self.edited(k), "value")
        err = pn.pane.HTML("", css_classes=["lever-error"], styles={"color": "#b00020"})
        doc = pn.pane.HTML(f"<small>{html.escape(lv.doc)}</small>", width=460)
        self.widgets[lv.key], self.errors[lv.key] = w, err
        return pn.Row(w, pn.Column(doc, err, margin=0), css_classes=[f"{lv.css}-row"])

    def add_lever(self, lv: Lever, add: pn.widgets.Select) -> None:
        """Give a group a multiplier it does not name: a lever at 1, above the list it was
        picked from, which no longer offers it."""
        self.levers.append(lv)
        self.loaded[lv.key] = value_of(self.base, lv)
        card = self.cards[lv.section]
        card.insert(len(card.objects) - 1, self.lever_row(lv))
        add.param.update(options={k: v for k, v in add.options.items() if v != lv.key}, value="")

    def values(self) -> dict[str, Any]:
        """Each lever's value on the page (a section not opened yet: as loaded)."""
        return self.loaded | {k: w.value for k, w in self.widgets.items()}

    def overrides(self) -> dict[str, Any]:
        """The levers that differ from the scenario picked, as --set overrides."""
        return overrides(self.base, self.levers, self.values(), self.loaded)

    def edited(self, key: str | None) -> None:
        """Validate the scenario as edited; a bad value's message goes beside its lever."""
        for err in self.errors.values():
            err.object = ""
        values = self.values()
        changed = [k for k, v in values.items() if v != self.loaded[k]]
        try:
            over = self.overrides()
            self.scenario = load_scenario(self.base, over) if over else self.base
        except ScenarioError as exc:
            self.scenario = None
            msg = str(exc).removeprefix("--set: ")
            keys = [lv.key for lv in self.levers]
            where = error_key(msg, keys, [*([key] if key else []), *changed]) or keys[0]
            self.open_section(next(lv.section for lv in self.levers if lv.key == where))
            self.errors[where].object = html.escape(msg)
            self.valid.object = '<span style="color:#b00020">not valid: see the message</span>'
        else:
            n = len(changed)
            self.valid.object = (
                f"{html.escape(self.origin)}: valid scenario ({n} lever{'s' * (n != 1)} changed)"
            )
        self.refresh_toml()
        self.refresh_memory()

    def refresh_toml(self) -> None:
        """Show the edited scenario's TOML while 'Show TOML' is pressed."""
        self.toml_pane.visible = self.show_toml.value
        if self.show_toml.value and self.scenario is not None:
            self.toml_pane.object = f"<pre>{html.escape(self.scenario.to_toml())}</pre>"

    # ---------------------------------------------------------------- run
    def build_run_view(self) -> None:
        """The Run view: agents, seed, replicates, the memory estimate, Run and Cancel."""
        self.agents = pn.widgets.IntInput(name="Agents", value=20_000, step=10_000, start=1,
                                          width=200, css_classes=["run-agents"])  # fmt: skip
        self.lift = pn.widgets.Checkbox(name=f"lift the cap of {AGENTS_CAP:,} agents")
        self.seed = pn.widgets.IntInput(name="Seed", value=0, start=0, width=120)
        self.run_replicates = pn.widgets.IntInput(name="Replicates", value=1, start=1, width=120,
                                                  css_classes=["run-replicates"])  # fmt: skip
        self.memory = pn.pane.HTML("", css_classes=["memory"])
        for w in (self.agents, self.lift):
            w.param.watch(lambda e: self.refresh_memory(), "value")
        self.run_button = pn.widgets.Button(name="Run", button_type="primary", width=120,
                                            css_classes=["run-button"])  # fmt: skip
        self.run_button.on_click(lambda e: self.start_run())
        self.cancel_button = pn.widgets.Button(name="Cancel", width=120, disabled=True,
                                               css_classes=["cancel-button"])  # fmt: skip
        self.cancel_button.on_click(lambda e: self.job and self.job.cancel.set())
        self.bar = pn.indicators.Progress(value=0, max=100, width=500, css_classes=["run-bar"])
        self.run_status = pn.pane.HTML("", css_classes=["run-status"])
        self.run_view = pn.Column(
            pn.pane.Markdown("Runs the scenario as edited on the Scenario tab and writes a run"
                             " folder under the runs folder; with replicates, one run per seed"
                             " from the seed up, and the results show their median and band."),
            pn.Row(self.agents, self.seed, self.run_replicates, self.lift), self.memory,
            pn.Row(self.run_button, self.cancel_button), self.bar, self.run_status,
        )  # fmt: skip

    def checked_agents(self) -> int:
        """The agents asked for, within the cap unless it is lifted."""
        n = self.agents.value
        if n is None or n < 1:
            raise ScenarioError("agents: at least 1")
        if n > AGENTS_CAP and not self.lift.value:
            raise ScenarioError(f"agents: above the cap of {AGENTS_CAP:,}; tick 'lift the cap'")
        return n

    def refresh_memory(self) -> None:
        """Show the memory the run would need beside what this machine has."""
        if not hasattr(self, "memory"):
            return
        try:
            n = self.checked_agents()
            if self.scenario is None:
                raise ScenarioError("the scenario is not valid (Scenario tab)")
            need = sum(estimate_memory(self.scenario, n).values())
            have = available_memory()
            fits = "fits" if need <= have else "does NOT fit: use fewer agents"
            self.memory.object = (f"memory needed: about {need / GIB:.2f} GiB of {have / GIB:.1f}"
                                  f" GiB available ({fits})")  # fmt: skip
        except ScenarioError as exc:
            self.memory.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'

    def start(
        self,
        what: str,
        work: Callable[[Callable[[int, int], None]], Any],
        status: pn.pane.HTML,
        done: Callable[[Any], str],
    ) -> None:
        """Start a job in the background; ``status`` shows its progress, and ``done(result)``
        shows its result and says what it wrote."""
        if self.job is not None and not self.job.finished:
            status.object = f"wait: the {self.job.what} started before is still working"
            return
        doc = pn.state.curdoc  # the session's: safe to give a callback from another thread
        finished = (lambda: doc.add_next_tick_callback(self.tick)) if doc else (lambda: None)
        self.job, self.job_status, self.job_done = Job(what, work, finished), status, done
        status.object = f"{what}: starting"
        self.job.thread.start()
        self.run_button.disabled = self.compare_button.disabled = True
        self.cancel_button.disabled = self.compare_cancel.disabled = False
        self.bar.value = self.compare_bar.value = 0

    def start_run(self) -> None:
        """Run the scenario as edited (replicates: with seeds seed, seed + 1, ...)."""
        try:
            n, sc, reps = self.checked_agents(), self.scenario, self.run_replicates.value
            if sc is None:
                raise ScenarioError("the scenario is not valid: see the Scenario tab")
            if reps is None or reps < 1:
                raise ScenarioError("replicates: at least 1")
            sim = Sim(sc, n_agents=n, seed=self.seed.value)
            multi = MultiSim(sc, n_agents=n, seed=sim.seed, replicates=reps, processes=1)
            multi.check_memory()
        except (ScenarioError, MemoryError, RuntimeError) as exc:
            self.run_status.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            return
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", sc.meta.name).strip("-.") or "scenario"
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.runs / f"{name}-{n}-seed{sim.seed}{f'x{reps}' * (reps > 1)}-{stamp}"

        def work(progress: Callable[[int, int], None]) -> Path:
            if reps == 1:  # the engine's progress: a day at a time
                return sim.run(progress=progress).save(out)
            return multi.run(progress=progress).save(out)

        self.start("run", work, self.run_status, self.run_done)

    def run_done(self, path: Path) -> str:
        """Show a finished run's folder on the Results view."""
        self.bar.value = 100
        self.show_results(path)
        return path.name

    def tick(self) -> None:
        """Show the progress of the job working, and its result when it is done."""
        job, status = self.job, self.job_status
        if job is None:
            return
        if job.total:
            self.bar.value = self.compare_bar.value = int(100 * job.done / job.total)
        if not job.finished:
            status.object = html.escape(job.status())
            return
        self.job = None
        self.run_button.disabled = self.compare_button.disabled = False
        self.cancel_button.disabled = self.compare_cancel.disabled = True
        took = time.monotonic() - job.started
        try:
            if job.error:
                raise RuntimeError(job.error)
            status.object = f"done in {took:.1f} s: {html.escape(self.job_done(job.result))}"
        except Exception as exc:  # shown on the page: the server stays up
            status.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
        self.refresh_runs()

    # ---------------------------------------------------------------- results
    def build_results_view(self) -> None:
        """The Results view: the headline, downloads and one chart at a time."""
        self.results_title = pn.pane.Markdown("No run yet: run one (Run tab) or open one (Runs).")
        self.headline = pn.pane.HTML("", css_classes=["headline"], stylesheets=[TABLE_CSS])
        self.headline_numbers = pd.DataFrame()
        self.headline_csv = csv_download(lambda: self.headline_numbers, "headline")
        self.report_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO((self.results.path / "report.html").read_bytes()),
            filename="report.html", label="report.html", width=160,
            css_classes=["report-download"],
        )  # fmt: skip
        self.report_button = pn.widgets.Button(name="Write report.html", width=160,
                                               css_classes=["report-button"])  # fmt: skip
        self.report_button.on_click(lambda e: self.start_report())
        self.report_status = pn.pane.HTML("", css_classes=["report-status"])
        self.downloads = pn.Row(self.headline_csv, self.report_download, self.report_button,
                                self.report_status, visible=False)  # fmt: skip
        self.chart_list: dict[str, Chart] = {}
        self.chart_pick = pn.widgets.Select(name="Chart", options={}, width=420,
                                            css_classes=["chart-pick"])  # fmt: skip
        self.chart_pick.param.watch(lambda e: self.show_chart(), "value")
        self.chart_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.chart_pane = pn.pane.Bokeh(None, sizing_mode="stretch_width")
        self.chart_csv = csv_download(lambda: self.chart_list[self.chart_pick.value].numbers, "")
        self.charts = pn.Column(self.chart_pick, self.chart_text, self.chart_pane,
                                pn.Row(self.chart_csv, png_download()),
                                sizing_mode="stretch_width", visible=False)  # fmt: skip
        self.results_view = pn.Column(
            self.results_title, self.headline, self.downloads, self.charts,
            sizing_mode="stretch_width",
        )  # fmt: skip

    def show_results(self, path: Path) -> None:
        """Show a run folder (replicates: medians and bands): headline, charts, people."""
        run, charts = run_charts(path)
        res = self.results = run.res
        m = res.manifest
        seeds = f"seed {m['seed']}"
        if run.replicates:
            s = run.multi.seeds
            seeds = f"{len(s)} replicates (seeds {s[0]} to {s[-1]})"
        self.results_title.object = (
            f"### {m['scenario']}: {m['n_agents']:,} agents, {seeds}, {m['start']} to"
            f" {m['end']}\nFolder `{path.name}`; counts {m['counts']} ({m['scale']:,.1f} people"
            " per agent)."
        )
        if run.replicates:
            lo, hi = run.multi.band
            head = run.multi.headline()[["figure", "median", "lower", "upper"]]
            head.columns = ["figure", "median", f"{lo:g}th percentile", f"{hi:g}th percentile"]
            self.headline.object = table_html(head, "headline", dict.fromkeys(head.columns[1:],
                                                                              number))  # fmt: skip
        else:
            head = res.headline()
            head.columns = ["figure", "value", "wrongly", "wrongly (share)"]
            sanc = res.sanctions()[["sanction", "people_barred", "people_wrongful_share",
                                    "blocked_attempts", "attempts_wrongful_share"]]  # fmt: skip
            sanc.columns = ["sanction", "people barred", "wrongly", "blocked attempts", "wrongly "]
            fmt = {"value": number, "wrongly": number, "wrongly (share)": percent,
                   "people barred": number, "blocked attempts": number,
                   "wrongly ": percent}  # fmt: skip
            sanc["wrongly"] = sanc["wrongly"].astype(float)  # a share: shown as one
            self.headline.object = (
                table_html(head, "headline", fmt)
                + "<br>"
                + table_html(sanc, "sanctions", {**fmt, "wrongly": percent})
            )
        self.headline_numbers = head
        self.show_report_download()
        self.downloads.visible = True
        self.chart_list = {c.key: c for c in charts}
        shown = self.chart_pick.value  # the chart shown stays, where this run has it
        if shown not in self.chart_list:
            shown = charts[0].key if charts else None
        self.chart_pick.param.update(options={c.title: c.key for c in charts}, value=shown)
        self.show_chart()
        self.charts.visible = bool(charts)
        self.refresh_people()

    def show_chart(self) -> None:
        """Show the chart picked (one at a time: each costs the browser a second to draw), once
        the Results view is open: a run finishing on the Run view does not wait for it."""
        chart = self.chart_list.get(self.chart_pick.value)
        if chart is None or not self.showing("Results"):
            return
        self.chart_text.object = f"#### {chart.title}\n{chart.caption}"
        self.chart_pane.object = chart.figure
        self.chart_csv.filename = f"{chart.key}.csv"
        self.chart_csv.label = f"{chart.key} as CSV"
        self.charts.css_classes = ["chart", f"chart-{chart.key}"]

    def show_report_download(self) -> None:
        """The folder's report.html to download, or a button that writes it."""
        there = self.results is not None and (self.results.path / "report.html").is_file()
        self.report_download.visible, self.report_button.visible = there, not there

    def start_report(self) -> None:
        """Write the shown folder's report.html (the library's report) in the background."""
        if self.results is None:
            return
        from ..report import write_report  # matplotlib: only when asked

        path = self.results.path

        def done(_: Path) -> str:
            self.show_report_download()
            return "report.html"

        self.start(
            "report",
            lambda progress: write_report(path, processes=None),
            self.report_status,
            done,
        )

    # ---------------------------------------------------------------- compare
    def build_compare_view(self) -> None:
        """The Compare view: an edited variant, or two run folders, and the differences."""
        self.replicates = pn.widgets.IntInput(name="Replicates (seeds)", value=2, start=2,
                                              width=160)  # fmt: skip
        self.compare_button = pn.widgets.Button(
            name="Compare", button_type="primary", width=120, css_classes=["compare-button"]
        )
        self.compare_button.on_click(lambda e: self.start_compare())
        self.compare_cancel = pn.widgets.Button(name="Cancel", width=120, disabled=True)
        self.compare_cancel.on_click(lambda e: self.job and self.job.cancel.set())
        self.compare_bar = pn.indicators.Progress(value=0, max=100, width=500)
        self.compare_status = pn.pane.HTML("", css_classes=["compare-status"])
        self.compared: CompareResults | None = None
        self.every_output = pn.widgets.Checkbox(name="every output, not only the headline")
        self.every_output.param.watch(
            lambda e: self.compared and self.show_comparison(self.compared), "value"
        )
        self.compare_table = pn.pane.HTML("", css_classes=["differences"],
                                          stylesheets=[TABLE_CSS])  # fmt: skip
        self.folder_a = pn.widgets.Select(name="Baseline folder", options=[], width=420,
                                          css_classes=["compare-a"])  # fmt: skip
        self.folder_b = pn.widgets.Select(name="Variant folder", options=[], width=420,
                                          css_classes=["compare-b"])  # fmt: skip
        self.folders_button = pn.widgets.Button(name="Compare folders", width=160,
                                                css_classes=["compare-folders-button"])  # fmt: skip
        self.folders_button.on_click(lambda e: self.start_compare_folders())
        self.compare_view = pn.Column(
            pn.pane.Markdown(
                "Runs the scenario as picked (baseline) and as edited on the Scenario tab"
                " (variant) with the same seeds (common random numbers), agents and seed from"
                " the Run tab, and shows the paired differences: the median over replicates and"
                " the 10-90% band. The last day applies to both."
            ),
            pn.Row(self.replicates, self.every_output),
            pn.Row(self.compare_button, self.compare_cancel),
            pn.pane.Markdown(
                "Or compare two run folders of the runs folder, made with the same agents, seeds"
                " and period (replicate r of one against replicate r of the other)."
            ),
            pn.Row(self.folder_a, self.folder_b, self.folders_button),
            self.compare_bar, self.compare_status, self.compare_table,
        )  # fmt: skip

    def start_compare(self) -> None:
        """Run the scenario as picked and as edited (the variant), with the same seeds; the
        last day applies to both."""
        try:
            if self.scenario is None:
                raise ScenarioError("the scenario is not valid: see the Scenario tab")
            over = self.overrides()
            sets = assignments({k: v for k, v in over.items() if k == "time.end"})
            variant = assignments({k: v for k, v in over.items() if k != "time.end"})
            if not variant:
                raise ScenarioError("edit a lever on the Scenario tab first: the variant is the"
                                    " scenario as edited")  # fmt: skip
            cmp = Comparison([self.base], variants=["; ".join(variant)], sets=sets,
                             n_agents=self.checked_agents(), seed=self.seed.value,
                             replicates=self.replicates.value, processes=1)  # fmt: skip
            cmp.check_memory()
        except (ScenarioError, ValueError, RuntimeError) as exc:
            self.compare_status.object = (
                f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            )
            return
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.runs / f"compare-{self.base.meta.name}-{stamp}"

        def work(progress: Callable[[int, int], None]) -> tuple[CompareResults, Path]:
            res = cmp.run(progress=progress)
            return res, res.save(out)

        self.start("compare", work, self.compare_status, self.compare_done)

    def start_compare_folders(self) -> None:
        """Compare two finished run folders of the runs folder, the first the baseline."""
        try:
            folders = [safe_child(self.runs, w.value or "") for w in (self.folder_a, self.folder_b)]
        except ValueError as exc:
            self.compare_status.object = (
                f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            )
            return
        out = self.runs / f"compare-folders-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"

        def work(progress: Callable[[int, int], None]) -> tuple[CompareResults, Path]:
            res = compare_folders(folders)
            return res, res.save(out)

        self.start("compare", work, self.compare_status, self.compare_done)

    def compare_done(self, result: tuple[CompareResults, Path]) -> str:
        """Show a finished comparison."""
        self.compare_bar.value = 100
        self.show_comparison(result[0])
        return result[1].name

    def show_comparison(self, res: CompareResults) -> None:
        """The paired differences, the biggest first (the headline figures, or every output)."""
        self.compared = res
        d = res.differences.copy()
        if not self.every_output.value:  # the headline figures: those with a reader's label
            d = d[d["figure"] != d["output"]]
        d["order"] = -d["relative"].abs().fillna(0) - (d["diff_median"].abs() > 0)
        d = d.sort_values("order", kind="stable")
        band = [f"{number(lo)} to {number(hi)}" for lo, hi in zip(d["diff_lower"], d["diff_upper"],
                                                              strict=True)]  # fmt: skip
        shown = pd.DataFrame({
            "figure": d["figure"], "difference (median)": d["diff_median"], "10-90% band": band,
            "relative": d["relative"], "baseline": d["baseline_median"],
            "variant": d["arm_median"],
        })  # fmt: skip
        fmt = {"difference (median)": number, "relative": percent, "baseline": number,
               "variant": number}  # fmt: skip
        base, arm = html.escape(res.arms[0]), html.escape(res.arms[1])
        self.compare_table.object = (
            f"<p>baseline: <code>{base}</code>; variant: <code>{arm}</code></p>"
            + table_html(shown, "differences", fmt)
        )

    # ---------------------------------------------------------------- people
    def build_people_view(self) -> None:
        """The People view: filters, the audited people they keep, a person's story."""
        self.only_wrong = pn.widgets.Checkbox(name="wrongly sanctioned only", value=True)
        self.group = pn.widgets.Select(name="Group", options=["any"], width=160)
        self.region = pn.widgets.Select(name="Region", options=["any"], width=160)
        self.sanction = pn.widgets.Select(name="Barred from", options=["any"], width=160,
                                          css_classes=["sanction-select"])  # fmt: skip
        self.person = pn.widgets.Select(name="Person", options={}, width=900,
                                        css_classes=["person-select"])  # fmt: skip
        for w in (self.only_wrong, self.group, self.region, self.sanction):
            w.param.watch(lambda e: self.refresh_people(), "value")
        self.person.param.watch(lambda e: self.show_story(), "value")
        # the results whose audited people are listed, and those people
        self.people: tuple[Results | None, pd.DataFrame] = (None, pd.DataFrame())
        self.people_count = pn.pane.HTML("", css_classes=["people-count"])
        self.story = pn.pane.HTML("", css_classes=["story"])
        self.people_view = pn.Column(
            pn.pane.Markdown("The audited people of the run shown on the Results tab; pick one"
                             " to read their story, every line from the audit table. 'Barred"
                             " from' keeps those a sanction barred during the run (wrongly, with"
                             " 'wrongly sanctioned only')."),
            pn.Row(self.only_wrong, self.group, self.region, self.sanction), self.people_count,
            self.person, self.story,
        )  # fmt: skip

    def refresh_people(self) -> None:
        """List the audited people the filters keep, once the People view is open (the audit
        table is read for it, once per run shown)."""
        res = self.results
        if res is None or not self.showing("People"):
            return
        if self.people[0] is not res:
            self.people = (res, audited_people(res))
        people = self.people[1]
        sanctions = [m.name for m in res.scenario.sanctions]
        for select, values in ((self.group, people["group"].unique()),
                               (self.region, people["region"].unique()),
                               (self.sanction, sanctions)):  # fmt: skip
            options = ["any", *sorted(map(str, values))]
            if select.options != options:
                select.options = options
        barred = "wrongly_barred_from" if self.only_wrong.value else "barred_from"
        sel = people[people["wrongly_barred_from"] != ""] if self.only_wrong.value else people
        for column, select in (("group", self.group), ("region", self.region)):
            if select.value not in (None, "any"):
                sel = sel[sel[column].astype(str) == select.value]
        if self.sanction.value not in (None, "any"):
            sel = sel[sel[barred].str.split(", ").map(lambda s: self.sanction.value in s)]
        self.people_count.object = (f"{len(sel):,} of {len(people):,} audited people"
                                    f" (showing at most {PEOPLE_SHOWN})")  # fmt: skip
        options = {}
        for r in sel.head(PEOPLE_SHOWN).itertuples(index=False):
            label = (
                f"{r.person}: {r.age_band}, {'urban' if r.urban else 'rural'} {r.region},"
                f" group {r.group}"
                + (f"; wrongly barred from {r.wrongly_barred_from}" if r.wrongly_barred_from
                   else f"; barred from {r.barred_from}" if r.barred_from else "")
            )  # fmt: skip
            options[label] = int(r.person)
        self.person.options = options
        self.show_story()

    def show_story(self) -> None:
        """The picked person's story, as ``explain`` tells it."""
        if self.results is None or self.person.value is None:
            self.story.object = ""
            return
        text = self.results.explain(int(self.person.value))
        self.story.object = f"<pre style='white-space: pre-wrap'>{html.escape(text)}</pre>"

    # ---------------------------------------------------------------- runs
    def build_runs_view(self) -> None:
        """The Runs view: the folders of the runs folder, to open or delete."""
        self.runs_table = pn.pane.HTML("", stylesheets=[TABLE_CSS])
        self.folder = pn.widgets.Select(name="Folder", options=[], width=420,
                                        css_classes=["folder-select"])  # fmt: skip
        self.open_button = pn.widgets.Button(name="Open", button_type="primary", width=100)
        self.open_button.on_click(lambda e: self.open_folder())
        self.confirm = pn.widgets.Checkbox(name="yes, delete it", css_classes=["confirm-delete"])
        self.delete_button = pn.widgets.Button(name="Delete", button_type="danger", width=100)
        self.delete_button.on_click(lambda e: self.delete_folder())
        self.runs_status = pn.pane.HTML("")
        self.runs_view = pn.Column(
            pn.pane.Markdown(f"Run and comparison folders in `{self.runs}`."),
            pn.Row(self.folder, self.open_button, self.delete_button, self.confirm),
            self.runs_status, self.runs_table,
        )  # fmt: skip
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the folders of the runs folder here and in the Compare view's pickers."""
        frame = run_folders(self.runs)
        self.runs_table.object = table_html(frame, "runs", {})
        self.folder.options = list(frame["folder"])
        runs = list(frame.loc[frame["kind"] == "run", "folder"])
        self.folder_a.options, self.folder_b.options = runs, runs[1:] + runs[:1]

    def open_folder(self) -> None:
        """Open the folder picked: a run on the Results view, a comparison on the Compare view."""
        try:
            path = safe_child(self.runs, self.folder.value or "")
            if (path / "manifest.json").is_file() and "compare" in run_folders(self.runs).set_index(
                "folder"
            ).loc[path.name, "kind"]:
                self.show_comparison(CompareResults.load(path))
                self.tabs.active = 3
            else:
                self.show_results(path)
                self.tabs.active = 2
            self.runs_status.object = f"opened {html.escape(path.name)}"
        except (OSError, ValueError, KeyError) as exc:
            self.runs_status.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'

    def delete_folder(self) -> None:
        """Delete the run or comparison folder picked, once 'yes, delete it' is ticked."""
        try:
            path = safe_child(self.runs, self.folder.value or "")
            if not self.confirm.value:
                raise ValueError("tick 'yes, delete it' first")
            if not (path / "manifest.json").is_file():
                raise ValueError(f"{path.name}: not a run folder")
            shutil.rmtree(path)
            self.confirm.value = False
            self.runs_status.object = f"deleted {html.escape(path.name)}"
        except (OSError, ValueError) as exc:
            self.runs_status.object = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
        self.refresh_runs()


def session(runs: Path) -> pn.Column:
    """A browser session's page, which reads a job's progress four times a second and, once
    loaded, warms up the results' imports."""
    dashboard = Dashboard(runs)
    pn.state.add_periodic_callback(dashboard.tick, period=TICK_MS)
    pn.state.onload(warm_up)
    return dashboard.page


def rehearse(runs: Path) -> None:
    """Make a page and its Bokeh models once and throw them away, before the server takes
    requests: the first browser then does not wait for the imports, the built-in scenario's
    parse and Panel's first widgets of each kind (half a second or more). Panel's ``warm=True``
    does this too but also runs the page's onload: the results' imports then competed with the
    first page load and made it slower."""
    doc = Document()
    doc.add_root(Dashboard(runs).page.get_root(doc))
    doc.to_json()


def serve(
    runs: Path, port: int, host: str = "127.0.0.1", ready: Callable[[str], None] = print
) -> None:
    """Serve the dashboard until Ctrl-C (KeyboardInterrupt), then stop the server cleanly."""
    runs.mkdir(parents=True, exist_ok=True)
    rehearse(runs)
    origins = [f"{h}:{port}" for h in {host, "127.0.0.1", "localhost"}]
    server = pn.serve(
        {"/": lambda: session(runs)},
        port=port, address=host, show=False, start=False, title="socialcreditsim dashboard",
        allow_websocket_origin=origins, websocket_max_message_size=2 * MAX_FILE_BYTES,
    )  # fmt: skip
    server.start()
    ready(f"http://{host}:{server.port}/")
    try:
        server.io_loop.start()
    finally:
        server.stop()
        server.io_loop.close(all_fds=False)
