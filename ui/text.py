"""Text a user or a file supplied (class, file, folder and run names, notes, messages quoting them) shown
as text: nothing in it may become a link, an image, HTML, code, a formula or a Streamlit directive. And
the few formats every page shares."""

from __future__ import annotations

import html
import re

from seg import runs

# What can start a link, image, HTML, code, emphasis or formula; and Streamlit's `:name` directives (colours,
# icons), which swallow `:red` in a name like `b:red[x]`.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|~$]|:(?=[A-Za-z]))")


def md(text) -> str:
    """Text a user or a file supplied (a class, file, folder or run name, a note, a message quoting them) for
    a Markdown element (`st.markdown`, `caption`, `error`, a `help`), shown as written: nothing in it starts a
    link, an image, HTML, code, emphasis or a formula. Line breaks become spaces."""
    text = _MARKDOWN.sub(r"\\\1", re.sub(r"[\r\n]+", " ", str(text)))
    return "\\" + text if text[:1] in ("#", "-", "+", "=") else text  # no heading or list at the start


def code(text) -> str:
    "User-supplied text in a Markdown code span: monospace and literal, with a fence no backtick inside closes."
    text = re.sub(r"[\r\n]+", " ", str(text))
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plot_text(text, limit: int = 32) -> str:
    """User-supplied text for a Plotly chart (trace names, axis categories), which reads a few HTML tags;
    cut to `limit` characters so a long name does not squeeze the chart."""
    text = str(text)
    return html.escape(text if len(text) <= limit else text[:limit - 1] + "…", quote=False)


def score(value) -> str:
    "A score for a metric: three decimals, or a dash where there is none (a class absent everywhere)."
    return "-" if value is None or value != value else f"{value:.3f}"


def run_label(run: runs.Run) -> str:
    from seg.runs.manage import label
    s = run.summary()
    dice = f" · best Dice {score(s['best_dice'])}" if s.get("best_dice") is not None else ""
    return f"{label(run)} · {s['status']}{dice}"
