"""The Results view's charts and tables: interactive Bokeh figures (hover, zoom, PNG through the
toolbar's save tool), HTML tables whose cells carry their exact values, and the CSV download of
each chart's numbers."""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import HoverTool, NumeralTickFormatter
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from ..results import Results


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


def line_chart(frame: pd.DataFrame, title: str, y_label: str) -> figure:
    """One line per column of ``frame`` (indexed by date): hover to read, zoom a period, save
    as PNG, click a legend entry to hide its line; columns ending in ' (wrongful)' are dashed in
    the colour of their total."""
    p = figure(title=title, x_axis_type="datetime", height=360, sizing_mode="stretch_width",
               tools="pan,xwheel_zoom,box_zoom,reset,save", y_axis_label=y_label)  # fmt: skip
    totals = [c for c in frame.columns if not c.endswith(" (wrongful)")]
    for i, col in enumerate(totals):
        colour = Category10_10[i % 10]
        for name, dash in ((col, "solid"), (f"{col} (wrongful)", "dashed")):
            if name in frame:
                src = {
                    "date": frame.index.to_numpy(),
                    "value": frame[name].to_numpy(),
                    "series": [name] * len(frame),
                }
                p.line("date", "value", source=src, color=colour, line_dash=dash, line_width=2,
                       legend_label=name)  # fmt: skip
    p.add_tools(HoverTool(tooltips=[("", "@series"), ("date", "@date{%F}"),
                                    ("value", "@value{0,0}")],
                          formatters={"@date": "datetime"}, mode="mouse"))  # fmt: skip
    p.legend.click_policy = "hide"
    p.legend.label_text_font_size = "8pt"
    p.legend.spacing = 0
    p.add_layout(p.legend[0], "right")  # beside the lines, not over them
    p.yaxis.formatter = NumeralTickFormatter(format="0,0")
    return p


def chart_frames(res: Results) -> dict[str, tuple[str, str, pd.DataFrame]]:
    """The Results view's charts: title, axis label and the daily numbers behind each."""
    sc = res.scenario
    barred, attempts = {}, {}
    for m in sc.sanctions:
        for metric, out in (("sanctioned_people", barred), ("blocked_attempts", attempts)):
            cum = metric == "blocked_attempts"
            try:
                out[m.name] = res.series(metric, m.name, cumulative=cum)
                out[f"{m.name} (wrongful)"] = res.series(metric, m.name, "wrongful", cumulative=cum)
            except KeyError:
                continue
    lists = {}
    for metric, label in (("court_listed", "courts' list"), ("blacklisted", "score blacklist"),
                          ("court_listed_at_discretion", "listed at discretion"),
                          ("red_listed", "red list")):  # fmt: skip
        try:
            s = res.series(metric)
        except KeyError:
            continue
        if s.abs().sum() > 0:
            lists[label] = s
    return {
        "barred": ("People barred, per sanction (dashed: wrongly)", "people",
                   pd.DataFrame(barred)),
        "attempts": ("Blocked attempts since the start, per sanction (dashed: wrongly)",
                     "attempts", pd.DataFrame(attempts)),
        "lists": ("People on the lists", "people", pd.DataFrame(lists)),
    }  # fmt: skip


def wrongly_sanctioned(res: Results) -> pd.DataFrame:
    """The audited people, with the sanctions they were wrongly barred from (empty: none)."""
    a = res.audit
    wrong = a[(a["kind"] == "measure_start") & (a["truth"] == "wrongful")]
    by = wrong.groupby("person")["item"].agg(lambda s: ", ".join(sorted(set(map(str, s)))))
    people = res.people.copy()
    people["wrongly barred from"] = people["person"].map(by).fillna("")
    return people


def csv_download(numbers: Callable[[], pd.DataFrame], name: str) -> pn.widgets.FileDownload:
    """A button that downloads the frame ``numbers()`` gives, as ``<name>.csv``."""
    return pn.widgets.FileDownload(
        callback=lambda: io.StringIO(numbers().to_csv(index=False)),
        filename=f"{name}.csv", label=f"{name} as CSV", width=200,
        css_classes=["csv-download", f"csv-{name}"],
    )  # fmt: skip
