"""How long the first page takes on a freshly started server, in Chromium: the time from the browser
asking for `/` to the Data page saying "Ready to train" on the demo dataset (already written), for
the first visitor and for a second one. The first pays for every import the page needs.

    python bench/first_page.py [--rounds 3] [--before PATH] [--write]
        --before: also serve another checkout (an older commit, same .venv), measured in the same run

With --write, its table goes into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
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


def measure(repo: Path, rounds: int) -> tuple[float, float, list[float]]:
    "Median seconds for the first and a second visitor, over `rounds` fresh servers of `repo`."
    firsts, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        home = Path(tmp) / "home"
        from seg.data.demo import write_demo
        write_demo(home / "demo")  # the demo is on disk already, as after a first `make run`
        for _ in range(rounds):
            with serve(home, Path(tmp), cwd=repo) as url:  # a fresh server process each round
                firsts.append(visit(browser, url))
                seconds.append(visit(browser, url))
    return statistics.median(firsts), statistics.median(seconds), firsts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", type=Path, help="another checkout to measure in the same run")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args()
    checkouts = [("this checkout", ROOT)] + ([(f"before: {commit(args.before)}", args.before)] if args.before else [])
    rows = []
    for name, repo in checkouts:
        first, second, firsts = measure(repo, args.rounds)
        rows.append((name, first, second))
        print(f"{name}: first page on a fresh server {first:.2f} s (median of {args.rounds}: "
              f"{', '.join(f'{x:.2f}' for x in firsts)}); a second visitor {second:.2f} s", flush=True)
    if args.write:
        table = ("| checkout | first visitor of a fresh server (s) | a second visitor (s) |\n|---|---|---|\n"
                 + "".join(f"| {n} | {f:.2f} | {s:.2f} |\n" for n, f, s in rows)
                 + f"\nSeconds from asking for `/` to \"Ready to train\" on the demo in Chromium, medians of "
                   f"{args.rounds} fresh servers each, CPU: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}.\n")
        results.write("first_page", table)


def commit(repo: Path) -> str:
    import subprocess
    r = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return (r.stdout.strip()[:60] + "...") if r.returncode == 0 else str(repo)


if __name__ == "__main__":
    main()
