"""The adoption chart: an inline SVG drawn by pygal on the server.

pygal draws with its JavaScript off (`js=[]`); what it still embeds for
interactive use (its config `<script>`, a `<style>` block, a hidden tooltip
with a `style` attribute, comments) is removed from the tree before it is
written, so the page's CSP needs no `unsafe-inline`: the chart's look comes
from the site's stylesheet, by the classes pygal sets and the ones added here
(`line-<name>` per series, `marker` on the enforcement and deadline lines).

Drawing 90 days costs pygal tens of milliseconds, so a drawing is kept per
process for its exact figures (`draw` is memoised): a page seen again before
the figures change is not drawn again.
"""

from __future__ import annotations

import functools
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pygal
from markupsafe import Markup

# pygal puts a finder for its map plugins (which the chart does not use) at the
# end of the import system's finders, one without `find_spec`: every import that
# finds no module (an optional dependency tried) then warns with ImportWarning.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)
]

WIDTH, HEIGHT = 640, 260
# pygal's tree names its tags without a namespace (the root carries `xmlns`).
# What pygal adds for its interactive use, by the class of the group.
DROPPED_TAGS = {"defs", "title", "script", "style"}
DROPPED_GROUPS = {"titles", "plot overlay", "plot text-overlay", "plot tooltip-overlay"}


@dataclass(frozen=True)
class Line:
    """One line of the chart: its legend, its CSS name, a value per day (None: no data)."""

    label: str
    name: str
    values: tuple[int | None, ...]


@dataclass(frozen=True)
class Drawing:
    """Everything a chart shows (hashable, so drawings are memoised)."""

    title: str
    description: str
    labels: tuple[str, ...]  # one per day
    major: tuple[str, ...]  # the labels shown under the axis
    markers: tuple[str, ...]  # labels of the days marked (enforcement, deadline)
    lines: tuple[Line, ...]
    top: int  # the y axis runs from 0 to this


def y_ticks(top: int) -> list[int]:
    """Whole numbers from 0 to `top`, about five of them."""
    step = max(1, -(-top // 4))
    magnitude = 10 ** (len(str(step)) - 1)
    for nice in (1, 2, 5, 10):
        if step <= nice * magnitude:
            step = nice * magnitude
            break
    return list(range(0, top + step, step))


@functools.lru_cache(maxsize=256)
def draw(drawing: Drawing, id_prefix: str = "adoption-chart") -> Markup:
    """The chart as inline SVG markup, labelled by its own title and description."""
    ticks = y_ticks(drawing.top)
    chart = pygal.Line(
        js=[],
        css=[],
        no_prefix=True,
        disable_xml_declaration=True,
        explicit_size=False,
        width=WIDTH,
        height=HEIGHT,
        show_dots=False,
        allow_interruptions=True,
        show_legend=False,
        show_x_guides=False,
        show_minor_x_labels=False,
        range=(0, ticks[-1]),
        y_labels=ticks,
        margin=8,
        spacing=6,
        truncate_label=-1,
    )
    chart.x_labels = list(drawing.labels)
    chart.x_labels_major = list(drawing.major)
    for line in drawing.lines:
        chart.add(line.label, list(line.values))
    root = chart.render_tree()
    _make_static(root)
    for group, line in zip(_series_groups(root), drawing.lines, strict=True):
        group.set("class", f"{group.get('class')} line-{line.name}")
    for guide in root.iter("g"):
        text = guide.find("text")
        if guide.get("class") == "guides" and text is not None and text.text in drawing.markers:
            guide.set("class", "guides marker")
    root.attrib.pop("id", None)
    root.set("class", "adoption-svg")
    root.set("role", "img")
    root.set("aria-labelledby", f"{id_prefix}-title {id_prefix}-desc")
    title = ET.Element("title", id=f"{id_prefix}-title")
    title.text = drawing.title
    desc = ET.Element("desc", id=f"{id_prefix}-desc")
    desc.text = drawing.description
    root.insert(0, desc)
    root.insert(0, title)
    # ElementTree escapes every text and attribute it writes (titles, labels).
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704


def _make_static(root: ET.Element) -> None:
    """Drop what only pygal's JavaScript and its own stylesheet would use."""
    for parent in list(root.iter()):
        for child in list(parent):
            comment = not isinstance(child.tag, str)
            if comment or child.tag in DROPPED_TAGS or child.get("class") in DROPPED_GROUPS:
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)


def _series_groups(root: ET.Element) -> list[ET.Element]:
    plot = next(g for g in root.iter("g") if g.get("class") == "plot")
    return [g for g in plot if (g.get("class") or "").startswith("series ")]
