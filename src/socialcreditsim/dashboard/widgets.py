"""The widget that edits each kind of lever (``levers.py``): a slider with a number box where
the lever has a range (a number typed beyond it goes to the scenario models, whose message the
page shows), a number box, a date picker, a switch, a multiple choice, or a box of lines of text
(a schedule's points)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import panel as pn
import param

from .levers import Lever

__all__ = ["OptionalDate", "lever_widget"]

WIDTH = 330


class OptionalDate(pn.viewable.Viewer):
    """A date that may be unset: a switch ("from") and a date picker."""

    value = param.CalendarDate(default=None, allow_None=True)

    def __init__(self, name: str, value: dt.date | None, start: dt.date, css: list[str]) -> None:
        super().__init__(value=value)
        self._syncing = False  # while the value sets the widgets, they do not set it back
        self._on = pn.widgets.Checkbox(name=f"{name}, from", value=value is not None)
        self._date = pn.widgets.DatePicker(value=value or start, width=160)
        self._on.param.watch(self._from_widgets, "value")
        self._date.param.watch(self._from_widgets, "value")
        self._layout = pn.Row(self._on, self._date, width=WIDTH, css_classes=css)

    def _from_widgets(self, _: Any) -> None:
        if not self._syncing:
            self.value = self._date.value if self._on.value else None

    @param.depends("value", watch=True)
    def _to_widgets(self) -> None:
        self._syncing = True
        try:
            if self.value is not None:
                self._date.value = self.value
            self._on.value = self.value is not None
        finally:
            self._syncing = False

    def __panel__(self) -> pn.Row:
        return self._layout


def lever_widget(lv: Lever, value: Any, start: dt.date) -> Any:
    """The widget of a lever, showing ``value`` (``start``: the scenario's first day)."""
    name, cls = f"{lv.label} ({lv.unit})", ["lever", lv.css]
    ranged = lv.lo is not None and lv.hi is not None
    common: dict[str, Any] = {"name": name, "width": WIDTH, "css_classes": cls}
    if lv.kind in ("float", "scale", "pace") and ranged:
        return pn.widgets.EditableFloatSlider(
            value=value, start=lv.lo, end=max(lv.hi, value), step=lv.step,
            format="0[.][0000]", **common,
        )  # fmt: skip
    if lv.kind == "int" and ranged:
        return pn.widgets.EditableIntSlider(
            value=value, start=int(min(lv.lo, value)), end=int(max(lv.hi, value)),
            step=int(lv.step), **common,
        )  # fmt: skip
    if lv.kind == "float":
        return pn.widgets.FloatInput(value=value, step=lv.step, **common)
    if lv.kind == "int":
        return pn.widgets.IntInput(value=value, step=int(lv.step), **common)
    if lv.kind == "date":
        return pn.widgets.DatePicker(value=value, **common)
    if lv.kind == "optional_date":
        return OptionalDate(lv.label, value, start, cls)
    if lv.kind in ("bool", "on"):
        return pn.widgets.Checkbox(value=value, name=lv.label, width=WIDTH, css_classes=cls)
    if lv.kind == "points":  # one 'date value' a line
        return pn.widgets.TextAreaInput(value=value, rows=value.count("\n") + 2, **common)
    if lv.kind == "choices":
        return pn.widgets.MultiChoice(options=list(lv.options), value=value, **common)
    raise ValueError(f"{lv.key}: no widget for kind {lv.kind!r}")
