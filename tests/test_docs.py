"""The documentation stands alone.

* Every relative link of every tracked Markdown file (README.md, docs/*.md,
  ...) points at a file or folder that exists in the repository (the
  ``#anchor`` part is not checked).
* No tracked text file cites the design brief the project started from: that
  document is not in the repository, so a reader could not follow the
  citation; the docs/ pages say everything themselves.

The checkers are plain functions, exercised first on deliberately broken
input so that a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]

#: the brief's name, spelled so that this file does not contain it
BRIEF = "ESE" + "-SPEC"

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+[\"'][^)]*)?\)")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
_EXTERNAL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//)")   # http:, mailto:, //host


def tracked_files() -> list:
    """Paths (relative to the repository root) of every file git tracks."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def link_targets(text: str) -> list:
    """Targets of the inline and reference-definition links of Markdown ``text``.

    Fenced code blocks and code spans are dropped first: brackets in command
    synopses are not links.
    """
    text = _FENCE.sub("", text)
    text = _CODE_SPAN.sub("", text)
    found = [m.group(1) for m in _INLINE.finditer(text)]
    found += [m.group(1) for m in _REFDEF.finditer(text)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found]


def broken_links(md: Path, root: Path = ROOT) -> list:
    """Relative link targets of ``md`` that do not exist under ``root``."""
    bad = []
    for target in link_targets(md.read_text(encoding="utf-8")):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not path or _EXTERNAL.match(target):
            continue                       # same-page anchor, or not a file
        dest = (root / path.lstrip("/")) if path.startswith("/") else (md.parent / path)
        dest = dest.resolve()
        if not dest.exists() or root.resolve() not in (dest, *dest.parents):
            bad.append(target)
    return bad


def brief_mentions(root: Path, files: list) -> list:
    """``path:line`` of every line of a text file in ``files`` naming the brief."""
    hits = []
    for rel in files:
        p = root / rel
        if not p.is_file():
            continue
        data = p.read_bytes()
        if b"\0" in data:
            continue                       # binary
        text = data.decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if BRIEF.lower() in line.lower():
                hits.append(f"{rel}:{n}")
    return hits


# ----------------------------------------------------------------------------- the checkers fail
def test_link_checker_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# there\n")
    md = tmp_path / "docs" / "page.md"
    md.write_text(
        "[ok](there.md) [ok anchor](there.md#there) [up](../docs/there.md)\n"
        "[web](https://example.org/x.md) [mail](mailto:a@b.c) [self](#top)\n"
        "[missing](nowhere.md) ![img](pics/missing.png) [gone](../gone.md#a)\n"
        "[outside](../../elsewhere/there.md)\n"
        "`[code](not-a-link.md)`\n"
        "```\n[fenced](not-a-link-either.md)\n```\n"
        "[ref]: also-missing.md\n")
    (tmp_path / "elsewhere").mkdir()
    assert sorted(broken_links(md, root=tmp_path)) == sorted(
        ["nowhere.md", "pics/missing.png", "../gone.md#a", "../../elsewhere/there.md",
         "also-missing.md"])


def test_brief_checker_finds_mentions(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n# see " + BRIEF.lower() + " section 3\n")
    (tmp_path / "b.md").write_text("nothing here\n")
    (tmp_path / "c.bin").write_bytes(b"\0" + BRIEF.encode())
    assert brief_mentions(tmp_path, ["a.py", "b.md", "c.bin", "deleted.txt"]) == ["a.py:2"]


# ----------------------------------------------------------------------------- the repository
def test_markdown_links_resolve():
    mds = [f for f in tracked_files() if f.endswith(".md")]
    assert "README.md" in mds and "docs/README.md" in mds, mds
    bad = {md: b for md in mds if (b := broken_links(ROOT / md))}
    assert not bad, f"links to missing files: {bad}"


def test_docs_index_lists_every_page():
    index = set(link_targets((ROOT / "docs" / "README.md").read_text(encoding="utf-8")))
    pages = {f[len("docs/"):] for f in tracked_files()
             if f.startswith("docs/") and f.endswith(".md") and f != "docs/README.md"}
    assert pages, "no docs/ pages tracked"
    missing = sorted(pages - index)
    assert not missing, f"docs/README.md does not list {missing}"


def test_no_file_cites_the_brief():
    hits = brief_mentions(ROOT, tracked_files())
    assert not hits, (f"{BRIEF} is not in the repository; cite the docs/ page instead: "
                      f"{', '.join(hits)}")
