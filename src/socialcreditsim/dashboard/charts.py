"""The Results view's charts and tables: interactive Bokeh figures (hover, zoom, PNG through the
toolbar's save tool), HTML tables whose cells carry their exact values, the CSV download of
each chart's numbers, and a button that saves the charts shown (all of them, one below the
other, where "All charts" is picked) as one PNG."""

from __future__ import annotations

import functools
import html
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.layouts import column
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LogColorMapper, NumeralTickFormatter
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure

from ..disparities import DIMENSION_WORDS


def number(v: float) -> str:
    """A number as the tables show it: thousands separators, or four significant digits."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def percent(v: float) -> str:
    """A share as a percentage with two decimals."""
    return "" if v is None or np.isnan(v) else f"{100 * v:.2f}%"


def table_html(frame: pd.DataFrame, cls: str, fmt: dict[str, Callable[[Any], str]]) -> str:
    """An HTML table whose number cells carry their exact value (``data-value``)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, rec, strict=True):
            if col in fmt:
                cells.append(f'<td class="num" data-col="{html.escape(col)}" data-value="{v!r}">'
                             f"{html.escape(fmt[col](v))}</td>")  # fmt: skip
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


TABLE_CSS = """
table {border-collapse: collapse; font-size: 13px}
th, td {padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left}
td.num {text-align: right; font-variant-numeric: tabular-nums}
"""


WRONGFUL = " (wrongful)"  # a line so named is the wrongful part of the line before the suffix
RIGHTFUL_COLOUR, WRONGFUL_COLOUR = "#1f77b4", "#d62728"
TOOLS = "pan,xwheel_zoom,box_zoom,reset,save"  # save: the chart as PNG


@dataclass
class Chart:
    """One chart of the Results view: its name (the CSV's), title, caption, and what draws
    the Bokeh figure and gives the numbers behind it, when the chart is first shown."""

    key: str
    title: str
    caption: str
    draw: Callable[[], tuple[Any, pd.DataFrame]]

    @cached_property
    def drawn(self) -> tuple[Any, pd.DataFrame]:
        """The figure and its numbers, drawn the first time they are asked for."""
        return self.draw()

    @property
    def figure(self) -> Any:
        return self.drawn[0]

    @property
    def numbers(self) -> pd.DataFrame:
        return self.drawn[1]


def _figure(title: str, y_label: str, **kw: Any) -> figure:
    """A figure with the Results view's size and tools (save: PNG)."""
    return figure(title=title, height=360, sizing_mode="stretch_width", tools=TOOLS,
                  y_axis_label=y_label, **kw)  # fmt: skip


def _legend_right(p: figure) -> None:
    """The legend beside the plot, its entries hiding their glyphs on a click."""
    p.legend.click_policy = "hide"
    p.legend.label_text_font_size = "8pt"
    p.legend.spacing = 0
    p.add_layout(p.legend[0], "right")  # beside the lines, not over them


def line_chart(lines: Mapping[str, pd.DataFrame], title: str, y_label: str) -> figure:
    """One line per entry of ``lines`` (a frame by date with ``median``, and ``lower`` and
    ``upper`` for replicates: a shaded band): hover to read, zoom a period, save as PNG, click
    a legend entry to hide its line; an entry named ``<total> (wrongful)`` is dashed in the
    colour of its total."""
    p = _figure(title, y_label, x_axis_type="datetime")
    drawn = []
    totals = [k for k in lines if not k.endswith(WRONGFUL)]
    for i, total in enumerate(totals):
        colour = Category10_10[i % 10]
        for name, dash in ((total, "solid"), (total + WRONGFUL, "dashed")):
            if name not in lines:
                continue
            line = lines[name]
            if "lower" in line:
                p.varea(x=line.index.to_numpy(), y1=line["lower"].to_numpy(),
                        y2=line["upper"].to_numpy(), fill_color=colour, fill_alpha=0.15,
                        legend_label=name)  # fmt: skip
            src = ColumnDataSource({"date": line.index.to_numpy(),
                                    "value": line["median"].to_numpy(),
                                    "series": [name] * len(line)})  # fmt: skip
            drawn.append(p.line("date", "value", source=src, color=colour, line_dash=dash,
                                line_width=2, legend_label=name))  # fmt: skip
    p.add_tools(HoverTool(renderers=drawn, tooltips=[("", "@series"), ("date", "@date{%F}"),
                                                     ("value", "@value{0,0}")],
                          formatters={"@date": "datetime"}, mode="mouse"))  # fmt: skip
    _legend_right(p)
    p.yaxis.formatter = NumeralTickFormatter(format="0,0")
    return p


def line_numbers(lines: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The numbers of a line chart: a date column, then each line (and its band's ends)."""
    cols = {}
    for name, line in lines.items():
        cols[name] = line["median"]
        if "lower" in line:
            cols[f"{name} (lower)"], cols[f"{name} (upper)"] = line["lower"], line["upper"]
    return pd.DataFrame(cols).rename_axis("date").reset_index()


def _lines(run: Any) -> list[Chart]:
    """People barred, blocked attempts and the lists over time."""
    sc, band = run.scenario, run.texts()["band"]
    barred: dict[str, pd.DataFrame] = {}
    attempts: dict[str, pd.DataFrame] = {}
    for m in sc.sanctions:
        for metric, out, cum in (("sanctioned_people", barred, False),
                                 ("blocked_attempts", attempts, True)):  # fmt: skip
            out[m.name] = run.line(metric, m.name, cumulative=cum)
            out[m.name + WRONGFUL] = run.line(metric, m.name, "wrongful", cumulative=cum)
    lists = {}
    for metric, label in (("court_listed", "courts' list"), ("blacklisted", "score blacklist"),
                          ("court_listed_at_discretion", "listed at discretion"),
                          ("red_listed", "red list")):  # fmt: skip
        line = run.line(metric)
        if line["median"].abs().sum() > 0:
            lists[label] = line
    out = []
    for key, title, caption, unit, lines in (
        ("barred", "People barred, per sanction", "At the end of each day; dashed: barred"
         " through a wrongly attributed record.", "people", barred),
        ("attempts", "Blocked attempts since the start, per sanction", "Purchases or"
         " applications refused (person-times); dashed: wrongly.", "attempts", attempts),
        ("lists", "People on the lists", "At the end of each day.", "people", lists),
    ):  # fmt: skip
        if lines:
            out.append(Chart(key, title, caption + band,
                             lambda ls=lines, t=title, u=unit: (line_chart(ls, t, u),
                                                                line_numbers(ls))))  # fmt: skip
    return out


def _published(run: Any) -> list[Chart]:
    """The scenario's published figures (dots) beside the simulated series (lines), as the
    report compares them (``series.series_spec``, the report's ``people``)."""
    from ..series import SeriesError, series_spec

    sc = run.scenario
    lines: dict[str, pd.DataFrame] = {}
    points: dict[str, dict[pd.Timestamp, float]] = {}
    for fig in sc.published:
        if not sc.time.start <= fig.date <= sc.time.end:
            continue
        try:
            spec = series_spec(fig.series, sc)
        except SeriesError:  # a sanction the scenario does not have
            continue
        if fig.series not in lines:
            lines[fig.series] = run.people(spec)
        points.setdefault(fig.series, {})[pd.Timestamp(fig.date)] = fig.value
    if not lines:
        return []
    title = "Simulated against published figures"

    def draw() -> tuple[figure, pd.DataFrame]:
        p = line_chart(lines, title, "people / person-times")
        for i, (name, at) in enumerate(points.items()):
            src = ColumnDataSource({"date": list(at), "value": list(at.values()),
                                    "series": [f"{name} (published)"] * len(at)})  # fmt: skip
            dots = p.scatter("date", "value", source=src, size=10, color=Category10_10[i % 10],
                             legend_label=f"{name} (published)")  # fmt: skip
            p.add_tools(HoverTool(renderers=[dots], tooltips=[("", "@series"),
                                                              ("date", "@date{%F}"),
                                                              ("value", "@value{0,0}")],
                                  formatters={"@date": "datetime"}))  # fmt: skip
        numbers = line_numbers(lines)
        for name, at in points.items():
            numbers[f"{name} (published)"] = numbers["date"].map(at)
        return p, numbers

    caption = ("Lines: the simulated series, scaled to people (cumulative ones from the count"
               " the scenario gives from before its start); dots: the published figures."
               + run.texts()["band"])  # fmt: skip
    return [Chart("published", title, caption, draw)]


def _scores(run: Any) -> list[Chart]:
    """The score distribution at each snapshot, as a heat map of shares (log colour)."""
    snap = run.snapshots
    hist = snap[(snap["dimension"] == "national") & (snap["metric"] == "score_histogram")]
    if hist.empty:
        return []
    hist = hist[["date", "bin", "value"]].copy()
    hist["share"] = hist["value"] / hist.groupby("date")["value"].transform("sum")
    hist = hist[hist["share"] > 0]
    width = run.scenario.output.score_bin_width
    dates = np.sort(hist["date"].unique())
    gap = np.median(np.diff(dates)) if len(dates) > 1 else np.timedelta64(30, "D")
    title = "Score distribution over time"

    def draw() -> tuple[figure, pd.DataFrame]:
        p = _figure(title, "score", x_axis_type="datetime")
        mapper = LogColorMapper(palette=Viridis256, low=float(hist["share"].min()), high=1.0)
        src = ColumnDataSource({"date": hist["date"].to_numpy(), "bin": hist["bin"] + width / 2,
                                "start": hist["bin"], "share": hist["share"]})  # fmt: skip
        p.rect("date", "bin", width=gap / np.timedelta64(1, "ms"), height=width, source=src,
               fill_color={"field": "share", "transform": mapper}, line_color=None)  # fmt: skip
        p.add_layout(ColorBar(color_mapper=mapper, title="share"), "right")
        p.add_tools(HoverTool(tooltips=[("snapshot", "@date{%F}"), ("score from", "@start{0}"),
                                        ("share", "@share{0.0000%}")],
                              formatters={"@date": "datetime"}))  # fmt: skip
        numbers = hist.rename(columns={"bin": "score bin start"})
        return p, numbers[["date", "score bin start", "share"]].reset_index(drop=True)

    caption = ("Share of scored people in each score bin (by bin start) at each snapshot; the"
               " colour scale is logarithmic." + run.texts()["first"])  # fmt: skip
    return [Chart("scores", title, caption, draw)]


def _grades(run: Any) -> list[Chart]:
    """The share of scored people holding each grade, stacked, at each snapshot."""
    grades = [g.name for g in run.scenario.score.grades]
    snap = run.snapshots
    if not grades or snap.empty:
        return []
    part = snap[(snap["dimension"] == "national") & snap["metric"].str.startswith("share_grade_")]
    wide = part.pivot(index="date", columns="metric", values="value")
    shares = wide[[f"share_grade_{g}" for g in grades]].set_axis(grades, axis=1)
    title = "Grades"
    numbers = shares.rename_axis("date").reset_index()

    def draw() -> tuple[figure, pd.DataFrame]:
        p = _figure(title, "share of scored people", x_axis_type="datetime")
        colours = list(reversed(Category10_10[: len(grades)]))
        areas = p.varea_stack(grades, x="date", source=ColumnDataSource(numbers), color=colours,
                              legend_label=grades)  # fmt: skip
        p.add_tools(HoverTool(renderers=areas, tooltips=[("grade", "$name"),
                                                         ("date", "@date{%F}"),
                                                         ("share", "@$name{0.00%}")],
                              formatters={"@date": "datetime"}))  # fmt: skip
        _legend_right(p)
        p.yaxis.formatter = NumeralTickFormatter(format="0%")
        return p, numbers

    caption = "Share of scored people holding each grade, at each snapshot." + run.texts()["first"]
    return [Chart("grades", title, caption, draw)]


def _who_numbers(run: Any) -> pd.DataFrame:
    """Per category of every dimension: the shares on the courts' list and barred (time
    averages in person-days, ``disparities.py``), their relative risks and the wrongful share
    of the barred."""
    from ..disparities import disparities

    frame = disparities(run.res)
    wide = frame.pivot_table(index=["dimension", "category"], columns="metric",
                             values=["share", "relative_risk"], sort=False)  # fmt: skip
    return pd.DataFrame({
        "people": frame.groupby(["dimension", "category"], sort=False)["people"].first(),
        "share court listed": wide[("share", "court_listed")],
        "RR court listed": wide[("relative_risk", "court_listed")],
        "share barred": wide[("share", "sanctioned")],
        "RR barred": wide[("relative_risk", "sanctioned")],
        "wrongful share of the barred": wide[("share", "sanctioned/wrongful_share")],
    }).reset_index()  # fmt: skip


def _bars(numbers: pd.DataFrame, title: str) -> figure:
    """Horizontal bars of the share barred per category, the wrongful part in red."""
    shown = numbers.iloc[::-1].fillna({"wrongful share of the barred": 0.0})
    label = shown["category"].astype(str)
    if shown["dimension"].nunique() > 1:
        label = shown["dimension"].map(DIMENSION_WORDS).fillna(shown["dimension"]) + ": " + label
    wrongful = shown["share barred"] * shown["wrongful share of the barred"]
    src = ColumnDataSource({"label": label.to_numpy(), "rightful": shown["share barred"] - wrongful,
                            "wrongful": wrongful, "share": shown["share barred"],
                            "wrong": shown["wrongful share of the barred"],
                            "rr": shown["RR barred"]})  # fmt: skip
    p = figure(title=title, y_range=list(label), height=max(200, 22 * len(label) + 80),
               sizing_mode="stretch_width", tools=TOOLS, x_axis_label="share of the category"
               " barred by at least one sanction (time average)")  # fmt: skip
    bars = p.hbar_stack(["rightful", "wrongful"], y="label", height=0.8, source=src,
                        color=[RIGHTFUL_COLOUR, WRONGFUL_COLOUR],
                        legend_label=["rightful", "wrongful"])  # fmt: skip
    p.add_tools(HoverTool(renderers=bars, tooltips=[("", "@label"), ("barred", "@share{0.00%}"),
                                                    ("of them wrongly", "@wrong{0.0%}"),
                                                    ("relative risk", "@rr{0.00}")]))  # fmt: skip
    p.xaxis.formatter = NumeralTickFormatter(format="0.0%")
    _legend_right(p)
    return p


def _who(run: Any) -> list[Chart]:
    """Who is hit: by region, and by group, urban or rural and age band."""
    if run.snapshots.empty:
        return []
    numbers = functools.cache(lambda: _who_numbers(run))  # a second or so: when first shown

    def draw(title: str, dims: list[str]) -> tuple[figure, pd.DataFrame]:
        part = numbers()
        part = part[part["dimension"].isin(dims)].reset_index(drop=True)
        return _bars(part, title), part

    first = run.texts()["first"]
    caption = ("Share of each category's people barred by at least one sanction, averaged over"
               " the run in person-days, the wrongfully barred part in red; hover for the"
               " relative risk against the national share (children: barred through a parent)."
               + first)  # fmt: skip
    return [
        Chart(key, title, caption, functools.partial(draw, title, dims))
        for key, title, dims in (("who", "Who is hit: group, urban or rural, age",
                                  ["group", "urban_rural", "age_band"]),
                                 ("regions", "Who is hit: regions", ["region"]))
    ]  # fmt: skip


def all_charts(charts: list[Chart]) -> Chart:
    """Every chart one below the other, drawn anew (a Bokeh figure has one place on a page),
    to save the whole view as one PNG; its numbers are each chart's, with a ``chart`` column."""

    def draw() -> tuple[Any, pd.DataFrame]:
        drawn = [c.draw() for c in charts]
        numbers = pd.concat({c.key: n for c, (_, n) in zip(charts, drawn, strict=True)},
                            names=["chart"]).reset_index(level=0)  # fmt: skip
        return column([f for f, _ in drawn], sizing_mode="stretch_width"), numbers

    return Chart(
        "all",
        "All charts",
        "Every chart above, one below the other: 'as PNG' saves"
        " them as one image (drawing them all takes the browser a few seconds).",
        draw,
    )


def run_charts(folder: Path) -> tuple[Any, list[Chart]]:
    """The report's reader of a run folder (``report.RunFolder``: medians and bands for a
    replicates folder) and the Results view's charts of it."""
    from ..report import RunFolder

    run = RunFolder(folder)
    charts = []
    for build in (_lines, _published, _scores, _grades, _who):
        charts += build(run)
    return run, charts + [all_charts(charts)] if len(charts) > 1 else charts


# draws every canvas under the element of class 'chart' (through Panel's and Bokeh's shadow
# roots) where it lies on the page, on white, and downloads the picture as '<chart>.png'
PNG_JS = """
const all = (root, out) => {
  for (const el of root.querySelectorAll('*')) {
    out.push(el)
    if (el.shadowRoot) all(el.shadowRoot, out)
  }
  return out
}
const host = all(document, []).find(e => e.classList && e.classList.contains('chart'))
const canvases = all(host.shadowRoot || host, []).filter(e => e.tagName === 'CANVAS'
  && e.width > 0 && e.getBoundingClientRect().width > 0)
const box = host.getBoundingClientRect()
const rects = canvases.map(c => c.getBoundingClientRect())
const top = Math.min(...rects.map(r => r.top)), left = Math.min(...rects.map(r => r.left))
const out = document.createElement('canvas')
out.width = Math.max(...rects.map(r => r.right)) - left
out.height = Math.max(...rects.map(r => r.bottom)) - top
const ctx = out.getContext('2d')
ctx.fillStyle = 'white'
ctx.fillRect(0, 0, out.width, out.height)
canvases.forEach((c, i) => ctx.drawImage(c, rects[i].left - left, rects[i].top - top,
                                         rects[i].width, rects[i].height))
const key = [...host.classList].find(c => c.startsWith('chart-')).slice(6)
out.toBlob(blob => {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = key + '.png'
  document.body.appendChild(a)
  a.click()
  a.remove()
}, 'image/png')
"""


def png_download() -> pn.widgets.Button:
    """A button that saves the chart shown (or all of them) as one PNG, drawn in the browser
    from the charts' canvases (the toolbar's save tool asks where to save, a chart at a
    time)."""
    button = pn.widgets.Button(name="as PNG", width=120, css_classes=["png-download"])
    button.js_on_click(code=PNG_JS)
    return button


def csv_download(numbers: Callable[[], pd.DataFrame], name: str) -> pn.widgets.FileDownload:
    """A button that downloads the frame ``numbers()`` gives, as ``<name>.csv``."""
    return pn.widgets.FileDownload(
        callback=lambda: io.StringIO(numbers().to_csv(index=False)),
        filename=f"{name}.csv", label=f"{name} as CSV", width=200,
        css_classes=["csv-download", f"csv-{name}"],
    )  # fmt: skip
