"""How long the first page takes on a freshly started server, in Chromium: the time from the browser
asking for `/` to the Data page saying "Ready to train" on the demo dataset (already written), for
the first visitor and for a second one. The first pays for every import the page needs.

    python bench/first_page.py [--rounds 3] [--repo PATH]   # --repo: serve another checkout (same .venv)

With --write, its table goes into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import results  # noqa: E402  (bench/results.py: where the tables go)
from playwright.sync_api import expect  # noqa: E402
from served import chromium, serve  # noqa: E402


def visit(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    start = time.perf_counter()
    page.goto(url)
    expect(page.get_by_text("Ready to train: 64 pairs")).to_be_visible(timeout=120_000)
    took = time.perf_counter() - start
    page.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repo", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args()
    firsts, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        home = Path(tmp) / "home"
        from seg.data.demo import write_demo
        write_demo(home / "demo")  # the demo is on disk already, as after a first `make run`
        for _ in range(args.rounds):
            with serve(home, Path(tmp), cwd=args.repo) as url:  # a fresh server process each round
                firsts.append(visit(browser, url))
                seconds.append(visit(browser, url))
    first, second = statistics.median(firsts), statistics.median(seconds)
    print(f"first page on a fresh server: {first:.2f} s (median of {args.rounds}: "
          f"{', '.join(f'{x:.2f}' for x in firsts)}); a second visitor: {second:.2f} s")
    if args.write:
        table = (f"| visit | seconds to \"Ready to train\" (median of {args.rounds} fresh servers) |\n|---|---|\n"
                 f"| the first visitor of a fresh server | {first:.2f} |\n| a second visitor | {second:.2f} |\n")
        results.write("first_page", table)


if __name__ == "__main__":
    main()
