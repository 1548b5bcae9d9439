"""The project's documentation as the tests read it: the README front page and the MkDocs pages in docs/.

Tests that hold a claim, a count or an example to the code find it here by heading, wherever the page it
lives on, so moving a section between pages never silently drops its checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _nav_pages() -> list[str]:
    """docs/ pages in the site's order (mkdocs.yml's nav), so PAGES reads like the site."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return [next(iter(item.values())) for item in config["nav"]]


# Relative path -> text: README.md first, then every page of the site.
PAGES: dict[str, str] = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")} | {
    f"docs/{name}": (ROOT / "docs" / name).read_text(encoding="utf-8") for name in _nav_pages()
}
TEXT = "\n\n".join(PAGES.values())

_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$", re.M)


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of every heading outside fenced blocks."""
    found, fenced, offset = [], False, 0
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append((offset, len(m[1]), m[2]))
        offset += len(line)
    return found


def section(heading: str) -> str:
    """The text under the heading titled `heading` (any level, any page), up to the next heading of the
    same or a higher level. Fails loudly when no heading or more than one has that title."""
    hits = []
    for text in PAGES.values():
        marks = _headings(text)
        for i, (offset, level, title) in enumerate(marks):
            if title == heading:
                end = next((o for o, lvl, _ in marks[i + 1 :] if lvl <= level), len(text))
                hits.append(text[offset:end])
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} headings titled {heading!r} in the documentation")
    return hits[0]


def table(first_row: str) -> str:
    """The Markdown table whose header row starts with `first_row`, up to the blank line after it."""
    start = TEXT.index(first_row)
    return TEXT[start : TEXT.index("\n\n", start)]
