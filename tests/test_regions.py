"""The repeated region (filters/regions.py): the compiled byte scan finds what a walk of lxml's tree finds on
well-formed pages, closes elements as a parser would where tags are left open, and never fails on damage."""

import random
from collections import defaultdict

import lxml.html
import pytest

from curate.filters.regions import MIN_MEMBERS, repeated_region

SKIP = {"script", "style", "noscript", "svg", "nav", "header", "footer", "form", "select", "head", "aside", "button",
        "iframe", "template"}


def lxml_region(html: str) -> tuple[str, int]:
    """The reference: lxml's tree, each element's stripped text lengths summed bottom up, children grouped
    by (tag, class), the best group the one with the most text outside links."""
    root = lxml.html.document_fromstring(html)
    sums = {}

    def walk(element, linked_above: bool) -> tuple[int, int]:
        chars = len((element.text or "").strip())
        linked = 0
        for child in element:
            if isinstance(child.tag, str) and child.tag not in SKIP:
                c, lk = walk(child, False)
                chars, linked = chars + c, linked + lk
            chars += len((child.tail or "").strip())
        if element.tag == "a":
            linked = chars
        sums[element] = (chars, linked)
        return chars, linked

    walk(root, False)
    best, best_score, best_count = None, 0, 0
    for element in root.iter():
        if not isinstance(element.tag, str) or element not in sums:
            continue
        groups = defaultdict(lambda: [0, 0, 0])
        for child in element:
            if child in sums and sums[child][0]:
                g = groups[(child.tag, child.get("class"))]
                g[0] += 1
                g[1] += sums[child][0]
                g[2] += sums[child][1]
        for count, chars, linked in groups.values():
            if count >= MIN_MEMBERS and chars - linked > best_score:
                best, best_score, best_count = element, chars - linked, count
    if best is None:
        return "", 0
    out = []

    def texts(element):
        if element.text and element.text.strip():
            out.append(element.text.strip())
        for child in element:
            if isinstance(child.tag, str) and child.tag not in SKIP:
                texts(child)
            if child.tail and child.tail.strip():
                out.append(child.tail.strip())

    texts(best)
    return "\n".join(out), best_count


WORDS = "river town bridge mill flood trade repair people century stone water road market".split()


def random_page(rng: random.Random) -> str:
    """A well-formed page: nested divs, lists, links, navs and scripts, some with repeated classed children."""
    def words(k):
        return " ".join(rng.choice(WORDS) for _ in range(k))

    def block(depth):
        kind = rng.random()
        if depth > 3 or kind < 0.3:
            inner = words(rng.randint(1, 12))
            if rng.random() < 0.3:
                inner += f' <a href="/x">{words(rng.randint(1, 4))}</a> {words(2)}'
            return f"<p>{inner}</p>"
        if kind < 0.4:
            return f"<nav><ul>{''.join(f'<li><a href=/{i}>{words(2)}</a></li>' for i in range(rng.randint(3, 8)))}</ul></nav>"
        if kind < 0.45:
            return "<script>var s = '<div class=card>not text</div>';</script>"
        cls = rng.choice(["card", "post", "row", None])
        attr = f' class="{cls}"' if cls else ""
        children = "".join(f"<div{attr}>{block(depth + 1)}</div>" for _ in range(rng.randint(1, 5)))
        tag = rng.choice(["div", "section", "ul"])
        if tag == "ul":
            children = "".join(f"<li{attr}>{words(rng.randint(1, 9))}</li>" for _ in range(rng.randint(1, 6)))
        return f"<{tag}>{children}</{tag}>"

    body = "".join(block(0) for _ in range(rng.randint(1, 5)))
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}<footer>{words(4)}</footer></body></html>"


def test_on_well_formed_pages_the_scan_finds_what_lxml_s_tree_walk_finds():
    rng = random.Random(0)
    found = 0
    for _ in range(300):
        html = random_page(rng)
        text, members, *_, nodes = repeated_region(html)
        reference, reference_members = lxml_region(html)
        assert (nodes, members) == (reference, reference_members), html
        assert text.split() == nodes.split() and text.count("\n") <= nodes.count("\n")  # the same words, joined
        found += members > 0
    assert found > 100  # most random pages do have a region


def test_a_listing_s_cards_are_the_region_and_the_menu_is_not():
    cards = "".join(f'<div class="card"><h3>Item {i}</h3><p>A fine old mill by the river, number {i}.</p></div>'
                    for i in range(5))
    menu = "<ul>" + "".join(f"<li><a href='/{i}'>Section {i} of the site</a></li>" for i in range(12)) + "</ul>"
    html = f"<html><body>{menu}<main><div class=grid>{cards}</div></main><footer>(c) 2024</footer></body></html>"
    text, members, share, linked, _ = repeated_region(html)
    assert members == 5 and linked == 0.0
    assert "A fine old mill by the river, number 4." in text and "Section" not in text and "(c)" not in text
    assert 0 < share < 1


def test_text_inside_links_and_inline_elements_stays_on_its_sentence_s_line():
    html = ("<div>" + "".join(f'<p>Known in <a href="/{i}">Vulkanland</a> for <b>ba</b>ths, <br>since 180{i}.</p>'
                              for i in range(3)) + "<h2>Next <span>part</span></h2><p>end</p></div>")
    text, members, *_, nodes = repeated_region(html)
    assert members == 4
    assert text.split("\n")[:3] == ["Known in Vulkanland for baths,", "since 1800.", "Known in Vulkanland for baths,"]
    assert text.endswith("since 1802.\nNext part\nend")
    assert nodes.split("\n")[:4] == ["Known in", "Vulkanland", "for", "ba"]  # what the selector's shape features read


def test_open_list_items_paragraphs_and_cells_close_as_a_parser_closes_them():
    text, members, *_ = repeated_region("<body><ul><li>one two three<li>four five<li>six seven eight</ul></body>")
    assert members == 3 and text == "one two three\nfour five\nsix seven eight"
    text, members, *_ = repeated_region("<div><p>alpha beta<p>gamma delta<p>epsilon zeta<div>x</div></div>")
    assert members == 3 and text.startswith("alpha beta")
    text, members, *_ = repeated_region("<table><tr><td>a b<td>c d<td>e f</table>")
    assert members == 3 and text == "a b\nc d\ne f"


def test_scripts_styles_and_comments_are_not_read():
    items = "".join(f"<p>real text number {i}</p>" for i in range(3))
    html = ("<div><script>if (a < b) { x = '</div><p>fake</p><p>fake</p><p>fake</p>'; }</script>"
            "<style>p > a { color: red }</style><!-- <p>hidden</p><p>hidden</p><p>hidden</p> -->" + items + "</div>")
    text, members, *_ = repeated_region(html)
    assert members == 3 and "fake" not in text and "hidden" not in text and "color" not in text


def test_entities_are_decoded_and_lengths_are_characters():
    html = "<div>" + "".join(f"<p>café {i} &amp; crème</p>" for i in range(3)) + "</div>"
    text, members, share, *_ = repeated_region(html)
    assert members == 3 and text.split("\n")[0] == "café 0 & crème"
    assert share == pytest.approx(3 * len("café 0 &amp; crème") / (3 * len("café 0 &amp; crème") + 1))


def test_no_region_without_enough_like_children():
    assert repeated_region("<div><p>one</p><p>two</p><span>three</span></div>") == ("", 0, 0.0, 0.0, "")
    assert repeated_region("") == ("", 0, 0.0, 0.0, "")


def test_damaged_pages_never_fail(sample_crawl):
    from curate.io.readers import WarcReader

    rng = random.Random(1)
    pages = [d.text for d in WarcReader(str(sample_crawl.parent), glob_pattern=sample_crawl.name).run()][:20]
    assert pages
    for html in pages:
        for _ in range(10):
            a, b = sorted(rng.randrange(len(html) + 1) for _ in range(2))
            cut = html[a:b]
            junk = "".join(rng.choice("<>/='\"!- \n&;abc") for _ in range(rng.randint(0, 40)))
            for broken in (cut, cut + junk, junk + cut, html[:a] + junk + html[b:]):
                text, members, share, linked, _ = repeated_region(broken)
                assert isinstance(text, str) and members >= 0 and 0 <= share <= 1 and 0 <= linked <= 1
    deep = "<div>" * 5000 + "<p>x y</p>" * 4 + "</div>" * 5000  # deeper than MAX_DEPTH
    assert repeated_region(deep)[1] >= 0
