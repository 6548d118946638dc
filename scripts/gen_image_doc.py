#!/usr/bin/env python3
"""Write the field tables of docs/memory-image.md from model/image.py.

    python scripts/gen_image_doc.py            # rewrite the tables in place
    python scripts/gen_image_doc.py --check    # exit 1 if the document is stale

The document marks each table with ``<!-- table:NAME -->`` ... ``<!-- end -->``
(NAME: header, layer, matrix); the text between the marks is
``model.image.doc_tables()[NAME]``.  tests/model/test_image.py fails when the
document differs from what this script writes, so the documented layout
cannot drift from the one the writer, the reader and the loader use.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ese.model.image import doc_tables  # noqa: E402

DOC = ROOT / "docs" / "memory-image.md"
_BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(\n<!-- end -->)", re.S)


def render(text: str) -> str:
    """``text`` with every marked table replaced by the generated one."""
    tables = doc_tables()
    seen = set()

    def sub(m):
        name = m.group(2)
        if name not in tables:
            raise SystemExit(f"{DOC}: unknown table mark {name!r} (known: {', '.join(tables)})")
        seen.add(name)
        return m.group(1) + tables[name] + m.group(4)

    out = _BLOCK.sub(sub, text)
    missing = set(tables) - seen
    if missing:
        raise SystemExit(f"{DOC}: no mark for table(s) {', '.join(sorted(missing))}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is stale: run python scripts/gen_image_doc.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
