"""curate.tools.charts, the one SVG kit of `curate report` and the ablation plots: marks scale with the data."""

import xml.etree.ElementTree as ET

import pytest

from curate.tools import charts

SVG = "{http://www.w3.org/2000/svg}"


def marks(svg: str, cls: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter() if e.get("class") == cls]


def test_num_and_esc():
    assert [charts.num(v) for v in (None, 1234567, 0.123456, 12345.6, "x")] == ["", "1,234,567", "0.1235", "12,346", "x"]
    assert charts.esc("a<b & 'c'") == "a&lt;b &amp; &#x27;c&#x27;"


def test_bars_scale_to_the_largest_value_and_escape_labels():
    svg = charts.bars(["a<b", "c"], [10, 5], unit=" docs")
    rects = marks(svg, "bar")
    assert len(rects) == 2 and float(rects[0].get("width")) == pytest.approx(2 * float(rects[1].get("width")))
    assert rects[0].find("title").text == "a<b: 10 docs"


def test_columns_stack_the_series_of_a_label():
    svg = charts.columns(["x", "y"], {"kept": [3, 1], "dropped": [1, 0]}, "bins")
    rects = marks(svg, "bar")
    assert len(rects) == 3  # a zero is not drawn
    kept_x, dropped_x = rects[0], rects[1]
    assert float(dropped_x.get("y")) + float(dropped_x.get("height")) == pytest.approx(float(kept_x.get("y")))
    assert float(kept_x.get("height")) == pytest.approx(3 * float(rects[2].get("height")))
    assert "dropped" in [t.text for t in ET.fromstring(svg).iter("text")]  # a legend for two series


def test_lines_draw_one_path_per_series_within_the_axes():
    svg = charts.lines({"a": [(0, 1.0), (10, 3.0)], "b": [(0, 2.0), (5, None), (10, 2.5)]}, "x", "y")
    paths = marks(svg, "line")
    assert [p.find("title").text for p in paths] == ["a", "b"]
    assert paths[1].get("d").count("L") == 1  # the missing point is skipped
    assert len(list(ET.fromstring(svg).iter("circle"))) == 4


def test_intervals_colour_by_which_way_the_metric_improves_and_start_bars_at_the_origin():
    args = (["up", "down", "across"], [0.1, -0.1, 0.0], [0.05, -0.2, -0.1], [0.2, -0.05, 0.1])
    assert [r.get("fill") for r in marks(charts.intervals(*args), "bar")] == [charts.GOOD, charts.BAD, charts.NEUTRAL]
    # a loss that went up is worse: red; one that went down is better: green
    assert [r.get("fill") for r in marks(charts.intervals(*args, better="lower"), "bar")] == [
        charts.BAD, charts.GOOD, charts.NEUTRAL]
    zoomed = charts.intervals(["a", "b"], [3.2, 3.1], [3.1, 3.0], [3.3, 3.15], origin=2.9, colors=["#111", "#222"])
    bars = marks(zoomed, "bar")
    assert [b.get("fill") for b in bars] == ["#111", "#222"]
    assert float(bars[0].get("x")) == float(bars[1].get("x"))  # both start at the origin, the left end
    assert float(bars[0].get("width")) == pytest.approx(1.5 * float(bars[1].get("width")))


def test_which_way_is_better_per_metric():
    assert [charts.better(m) for m in ("heldout_loss", "heldout_ppl", "val_loss", "core", "hellaswag_acc")] == [
        "lower", "lower", "lower", "higher", "higher"]
    assert charts.verdict(0.01, 0.02, "lower") == charts.BAD and charts.verdict(-0.02, -0.01, "lower") == charts.GOOD
    assert charts.verdict(0.01, 0.02, "higher") == charts.GOOD and charts.verdict(-0.01, 0.02, "higher") == charts.NEUTRAL


def test_dots_zoom_to_the_data_so_close_losses_look_different():
    svg = charts.dots(["clean", "boilerplate"], [4.77, 4.95], [4.75, 4.93], [4.79, 4.97], "held-out loss (lower is better)")
    x = [float(c.get("cx")) for c in marks(svg, "dot")]
    assert x[1] - x[0] > 250  # on an axis from 0 they would be 11 px apart in 300
    texts = [t.text for t in ET.fromstring(svg).iter("text")]
    assert "held-out loss (lower is better)" in texts and "4.8" in texts and "4.9" in texts and "0" not in texts


def test_labels_are_never_cut_the_chart_grows_instead():
    label = "would drop: gopher_repetition:dup_line_char_frac (a very long reason label indeed)"
    for svg in (charts.bars([label, "b"], [3, 1]), charts.intervals([label], [0.1], [0.0], [0.2]),
                charts.dots([label], [1.0], [0.9], [1.1], "x"), charts.grouped([label], {"documents": [50.0]})):
        root = ET.fromstring(svg)
        assert label in [t.text for t in root.iter("text")]
        assert float(root.get("width")) > charts.text_width(label)
    names = [f"variant number {i} (seed {i % 3})" for i in range(14)]
    svg = charts.lines({n: [(0, 1.0 + i), (1, 2.0 + i)] for i, n in enumerate(names)}, "x", "y")
    root = ET.fromstring(svg)
    assert set(names) <= {t.text for t in root.iter("text")}  # the whole legend, full names
    assert float(root.get("height")) >= 16 * len(names)


def test_colours_stay_distinct_past_the_palette():
    colours = [charts.color(i) for i in range(24)]
    assert len(set(colours)) == 24

    def rgb(c):
        return [int(c[i:i + 2], 16) for i in (1, 3, 5)]

    def distance(a, b):
        return sum((x - y) ** 2 for x, y in zip(rgb(a), rgb(b))) ** 0.5

    assert min(distance(a, b) for i, a in enumerate(colours[:12]) for b in colours[i + 1:12]) > 50
    assert min(distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1:]) > 20
    paths = marks(charts.lines({str(i): [(0, i), (1, i + 1.0)] for i in range(12)}, "x", "y"), "line")
    assert len({p.get("stroke") for p in paths}) == 12


def test_histogram_marks_the_threshold_and_shades_the_dropped_side():
    svg = charts.histogram(0.0, 0.1, {"kept": [5, 3, 0, 0], "dropped": [0, 0, 2, 1]}, "ratio",
                           marks=[(0.2, "keep <= 0.2"), (9.0, "keep <= 9")], drop=[(0.2, None)])
    root = ET.fromstring(svg)
    mark = [e for e in root.iter() if e.get("class") == "mark"]
    zone = next(e for e in root.iter() if e.get("class") == "zone")
    x = float(mark[0].get("d")[1:].split(",")[0])
    assert float(zone.get("x")) == pytest.approx(x, abs=0.1)  # the shaded side starts at the mark
    assert "keep <= 9 (beyond the data, at the right)" in [t.text for t in root.iter("text")]
    assert len(marks(svg, "bar")) == 4
    assert charts.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0] and charts.ticks(4.77, 4.95)[0] >= 4.77


def test_standalone_is_an_svg_document_with_its_title_above():
    chart = charts.bars(["a"], [1])
    root = ET.fromstring(charts.standalone(chart, "Loss & more"))
    assert root.tag == f"{SVG}svg" and float(root.get("height")) == 32 + charts.TITLE_BAND
    assert root.find(f"{SVG}text").text == "Loss & more"
    assert len([e for e in root.iter() if e.get("class") == "bar"]) == 1
