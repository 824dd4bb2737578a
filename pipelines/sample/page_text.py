"""Whole-page text of the sample pages, boilerplate included: the demo classifier's negatives.

resiliparse with `main_content=False` keeps menus, footers, cookie walls and link lists, the text a
quality classifier should score low; `make demo` trains against the kept documents of its run.
Example: `python -m curate.pipelines.sample.page_text out/demo/page_text`.
"""

from __future__ import annotations

import sys
from pathlib import Path

PAGES = Path(__file__).parent / "pages"


def main(out: str) -> None:
    from resiliparse.extract.html2text import extract_plain_text

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for page in sorted(PAGES.glob("*.html")):
        html = page.read_bytes().decode("utf-8", "replace")
        text = extract_plain_text(html, main_content=False, comments=True, links=False)
        if text.strip():
            (folder / f"{page.stem}.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
