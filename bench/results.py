"""Where the benchmarks write their tables: docs/benchmarks.md, each between its own markers
(`<!-- bench:NAME -->` ... `<!-- /bench:NAME -->`), so a run replaces its table and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def block(name: str, page: Path = PAGE) -> str:
    "The text between a benchmark's markers now ('' when there is none)."
    m = re.search(rf"<!-- bench:{name} -->\n(.*?)<!-- /bench:{name} -->", page.read_text(), flags=re.S)
    return m.group(1) if m else ""


def write(name: str, text: str, page: Path = PAGE) -> None:
    "Replace the text between the benchmark's markers; the markers must be on the page."
    content = page.read_text()
    start, end = f"<!-- bench:{name} -->\n", f"<!-- /bench:{name} -->"
    if start not in content or end not in content:
        raise SystemExit(f"{page} has no {start.strip()} ... {end} markers: add them where the table goes.")
    i, j = content.index(start) + len(start), content.index(end)
    page.write_text(content[:i] + text + content[j:])
