"""A run's report: one self-contained HTML file that outlives the server (`python -m seg report RUN_DIR --out
FILE`, and the Train page's download). It reads the run folder (seg/runs/) and predicts the validation images
again (seg/prediction/), so it sits above both, a module of its own: runs stays below prediction. Sections, each
an element with its id:

    summary    title, status, note, the final score
    settings   the settings and the plan with its reasons, the trials with the winner and why
    dataset    folder, fingerprint, pairs, split, class balance
    curves     loss and scores per epoch, batch loss (interactive Plotly)
    scores     Dice and IoU per class at the images' own size; object scores for a run on objects
    samples    validation images worst first: image | truth | prediction | errors, each with its Dice
    versions   segboard, fastai, torch, Python, the device and the number format, the command

It opens offline: Plotly's script is inside the file (about 4.8 MB), images are data URLs, nothing is
fetched. Whatever a user or a file supplied (names, notes, paths, messages) is escaped as text, and the page's
Content-Security-Policy runs only the scripts the report itself carries, each allowed by its sha256 hash (no
'unsafe-inline', no 'unsafe-eval': Plotly's charts draw without them).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import tempfile
import time
from pathlib import Path

from seg.errors import RunError
from seg.runs import compare
from seg.runs.folder import Run
from seg.runs.manage import about, title
from seg.util import atomic_write

SAMPLES = 8  # worst-first validation images shown
GENERATOR = "<meta name=generator content=segboard-report>"  # an earlier report may be replaced; nothing else
SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)  # the report's own; user text is escaped


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def num(value, digits: int = 3) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else esc(value)


def table(rows: list[list], head: list[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{num(c) if isinstance(c, float) else esc(c)}</td>" for c in row) + "</tr>"
            for row in rows]
    return "\n".join(out + ["</table>"])


def png_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


# ---- the sections -----------------------------------------------------------------------------------

def _summary(run: Run) -> str:
    s, f, a = run.status(), compare.final(run), about(run)
    parts = [f"<h1>{esc(title(run))}</h1>", f"<p class=muted>Run folder {esc(run.name)} · {esc(s.status)}"
             + (f" · started {time.strftime('%Y-%m-%d %H:%M', time.localtime(s.started))}" if s.started else "")
             + (f" · {esc(_minutes(s))}" if s.started and s.ended else "") + "</p>"]
    if a["note"]:
        parts.append(f"<p class=note>{esc(a['note'])}</p>")
    if s.message:
        parts.append(f"<p>{esc(s.message)}</p>")
    parts.append(f"<p class=score>{esc(f['basis'])}: <b>{num(f['score'])}</b></p>")
    return "\n".join(parts)


def _minutes(s) -> str:
    return f"{(s.ended - s.started) / 60:.1f} minutes"


def _settings(run: Run) -> str:
    cfg = run.config()
    rows = [[k, f"{v:g}" if isinstance(v, float) else v]  # a learning rate of 1e-4 is not 0.000
            for k, v in compare.settings(run).items() if v is not None]
    parts = ["<h2>Settings</h2>", table(rows, ["setting", "value"])]
    plan = cfg.get("plan") or {}
    if plan.get("reasons"):
        parts += ["<h3>Plan and its reasons</h3>", "<ul>"] + [f"<li>{esc(r)}</li>" for r in plan["reasons"]] + ["</ul>"]
    trials = run.trials()
    if trials:
        parts.append("<h3>Trials</h3>")
        parts.append(table([[("won" if r["candidate"] == trials["winner"] else
                              f"out after round {r['out_after']}" if r["out_after"] else ""), r["candidate"],
                             r["round"], r["minutes"], r["steps"], r["dice"]] for r in trials["rows"]],
                           ["", "candidate", "round", "minutes", "steps", "Dice, own size"]))
        if trials["reason"]:
            parts.append(f"<p>{esc(trials['reason'])}</p>")
    notes = run.notes()
    if notes:
        parts += ["<h3>Notes from the run</h3>", "<ul>"] + [f"<li>{esc(n)}</li>" for n in notes] + ["</ul>"]
    return "\n".join(parts)


def _dataset(run: Run) -> str:
    ds = run.config().get("dataset", {})
    rows = [["folder", ds.get("root")], ["fingerprint", ds.get("fingerprint")], ["pairs", ds.get("pairs")],
            ["training pairs", ds.get("train")], ["validation pairs", ds.get("valid")], ["split", ds.get("split")],
            ["typical size (width x height)", " x ".join(map(str, ds.get("typical_size") or [])) or None]]
    parts = ["<h2>Dataset</h2>", table([r for r in rows if r[1] is not None], ["", ""])]
    fractions = ds.get("class_fractions") or {}
    if fractions:
        parts += ["<h3>Class balance (share of the pixels)</h3>",
                  table([[c, f"{v:.1%}"] for c, v in fractions.items()], ["class", "pixels"])]
    return "\n".join(parts)


def _curves(run: Run) -> str:
    """The run's charts (seg/runs/charts.py), each an interactive Plotly chart: its own inline script, which
    `csp` allows by its hash. Plotly's script itself is in the page once (`build`)."""
    import plotly.io as pio

    from seg.runs import charts  # Plotly loads for the report only, not with every import of this module
    rows, batches = compare.curves(run), run.batches()
    figs = ([charts.epoch_loss(rows, height=340, legend_below=False),
             charts.epoch_scores(rows, height=340, legend_below=False)] if rows else [])
    figs += [charts.batch_loss(batches, height=340)] if batches else []
    if not figs:
        return "<h2>Curves</h2><p>No epoch finished.</p>"
    for f in figs:  # alone on a wide white page: room for the title, white like the page
        f.update_layout(margin=dict(t=50, b=40, l=50, r=10), template="plotly_white")
    return "<h2>Curves</h2>\n" + "\n".join(
        f"<div class=chart>{pio.to_html(f, full_html=False, include_plotlyjs=False, config={'displaylogo': False})}"
        "</div>" for f in figs)


def _scores(run: Run) -> str:
    full, objects = run.full_size(), run.object_scores()
    parts = ["<h2>Final scores</h2>"]
    if full and full.get("dice") is not None:
        parts.append(f"<p>Best weights on the {esc(full.get('images'))} validation images at their own size: Dice "
                     f"<b>{num(full['dice'])}</b>, IoU {num(full.get('iou'))} (foreground classes).</p>")
        parts.append(table([[c, v.get("dice"), v.get("iou"), v.get("true_pixels"), v.get("predicted_pixels")]
                            for c, v in full.get("per_class", {}).items()],
                           ["class", "Dice", "IoU", "true pixels", "predicted pixels"]))
    else:
        parts.append("<p>No scores at the images' own size (the run did not reach its end).</p>")
    if objects:
        parts.append(table([["AP at IoU 0.5", objects.get("ap50")], ["mean AP, IoU 0.5 to 0.95", objects.get("ap")],
                            ["objects found / true", f"{objects.get('found')} / {objects.get('true')}"],
                            ["count error (median)", objects.get("count_error_median")]], ["objects", ""]))
    return "\n".join(parts)


def _samples(run: Run) -> str:
    """Validation images predicted at their own size with the best weights, worst first; the last epoch's
    sample sheet when the dataset is gone."""
    parts = ["<h2>Validation images, worst first</h2>"]
    try:
        from seg.prediction.folder import Prediction
        from seg.prediction.output import predict, validation
        from seg.server.sharing import Access
        with tempfile.TemporaryDirectory() as tmp:
            # validation() lists the pairs within the folders the run recorded (config.json `within`)
            meta = predict(run.path, validation(run), Path(tmp) / "p", access=Access.machine())
            shown = Prediction(Path(tmp) / "p").images[:SAMPLES]
            parts += [f"<p class=muted>{esc(n)}</p>" for n in meta["notes"]]
            parts.append("<p class=muted>image | truth | prediction | errors (red: missed or wrong class, "
                         "yellow: predicted where there is nothing)</p>" if not run.config().get("objects") else
                         "<p class=muted>image | true objects | found objects</p>")
            for r in shown:
                score = (f"AP 0.5 {num(r.get('ap50'))}, {r.get('found')} found of {r.get('true')}"
                         if r.get("ap50") is not None else f"Dice {num(r.get('dice'))}")
                data = (Path(tmp) / "p" / r["preview"]).read_bytes()
                parts.append(f"<figure><img alt='{esc(r['name'])}' src='{png_url(data)}'>"
                             f"<figcaption>{esc(r['name'])}: {score}</figcaption></figure>")
    except Exception as e:  # the dataset moved, or the weights are gone: the training's own samples
        parts.append(f"<p class=muted>The validation images could not be predicted again ({esc(e)}).</p>")
        parts.append(_sheet(run))
    return "\n".join(parts)


def _versions(run: Run) -> str:
    cfg = run.config()
    rows = [[k, v] for k, v in (cfg.get("versions") or {}).items()]
    d = cfg.get("device") or {}
    rows += [["device", f"{d.get('kind', '')} {d.get('name', '')}".strip() or None],
             ["number format", (cfg.get("precision") or {}).get("label")],
             ["command", " ".join(map(str, cfg.get("command") or [])) or None], ["config written", cfg.get("created")]]
    return "<h2>Versions and device</h2>\n" + table([r for r in rows if r[1] is not None], ["", ""])


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem }
table { border-collapse: collapse; margin: .5rem 0 1rem } td, th { border: 1px solid #ddd; padding: 3px 8px;
text-align: left; vertical-align: top } th { background: #f4f4f4 } .muted { color: #666 } .score { font-size: 1.2rem }
.note { white-space: pre-wrap; background: #fafae8; padding: .5rem } figure { margin: 1rem 0 }
figure img { width: min(100%, 900px); image-rendering: pixelated }
section { border-top: 1px solid #eee; margin-top: 1.5rem }
"""


def build(run_dir, samples: bool = True) -> str:
    """The report of the run in `run_dir`, as HTML text. `samples`: predict the validation images again (loads
    torch and the model: seconds to a minute); without, the training's last sample sheet."""
    import plotly.offline
    run = Run(run_dir)
    run.poll()
    if not run.exists():
        raise RunError(f"{run.path}: not a run folder (no config.json or events.jsonl).")
    sections = {"summary": _summary(run), "settings": _settings(run), "dataset": _dataset(run),
                "curves": _curves(run), "scores": _scores(run),
                "samples": _samples(run) if samples else "<h2>Validation images</h2>" + _sheet(run),
                "versions": _versions(run)}
    body = "\n".join(f"<section id={k}>\n{v}\n</section>" for k, v in sections.items())
    made = time.strftime("%Y-%m-%d %H:%M")
    rest = f"<script>{plotly.offline.get_plotlyjs()}</script>\n</head><body>\n{body}\n"
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>{GENERATOR}\n"
            f"<title>{esc(title(run))}: segboard report</title>\n"
            f"<meta http-equiv='Content-Security-Policy' content=\"{csp(rest)}\">\n"
            f"<style>{STYLE}</style>\n{rest}"
            f"<p class=muted>Written by segboard on {made}.</p>\n</body></html>\n")


def csp(page: str) -> str:
    """The policy for a page whose every inline script is in `page`: those scripts run (by the sha256 of their
    exact text, as the browser hashes it), nothing else does, and nothing is fetched."""
    texts = (s.replace("\r\n", "\n").replace("\r", "\n") for s in SCRIPT.findall(page))  # as the parser reads
    hashes = dict.fromkeys(f"'sha256-{base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}'"
                           for t in texts)
    # blob: images: Plotly's "Download plot as png" draws the chart through one
    return f"default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src {' '.join(hashes)}"


def _sheet(run: Run) -> str:
    "The training's last sample sheet (at the training size), or a word that there is none."
    sheets = run.samples()
    if not sheets:
        return "<p>No sample sheet.</p>"
    return (f"<figure><img alt='{esc(sheets[-1].name)}' src='{png_url(sheets[-1].read_bytes())}'><figcaption>"
            "After the last epoch, at the training size: image | truth | prediction</figcaption></figure>")


def write(run_dir, out, samples: bool = True) -> Path:
    "The report written to `out` (whole, or not at all): a new file, or an earlier report replaced."
    out = Path(out).expanduser()
    if out.is_dir():
        raise RunError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}.")
    if not out.parent.is_dir():
        raise RunError(f"--out {out}: the folder {out.parent} does not exist.")
    if out.exists():
        with open(out, "rb") as f:
            if GENERATOR.encode() not in f.read(4096):
                raise RunError(f"--out {out} is a file segboard did not write; choose a new name (nothing was "
                               "changed).")
    return atomic_write(out, build(run_dir, samples))

