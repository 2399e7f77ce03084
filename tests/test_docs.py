"""The documentation keeps up with the code: every command-line option, every file and event type a run
writes and every key of its config.json appear in docs/, and every link in README.md and docs/ leads
to a file that exists."""

import json
import re
from pathlib import Path

from conftest import ROOT

from seg.cli import parser

DOCS = ROOT / "docs"


def words(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def test_every_command_and_option_is_in_the_cli_page():
    import argparse
    page = words("cli.md")
    missing = []
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, p in sub.choices.items():
        if f"`{command}" not in page and f"{command} " not in page:
            missing.append(command)
        for action in p._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help" and flag not in page:
                    missing.append(f"{command} {flag}")
    assert not missing, f"not in docs/cli.md: {missing}"


def test_every_file_event_and_config_key_a_run_writes_is_in_the_run_folder_page(finished):
    page = words("run-folder.md")
    code = "\n".join(p.read_text() for d in ("runs", "training") for p in (ROOT / "seg" / d).glob("*.py"))
    # files: what the session's run holds, and every name the code that writes runs joins onto a folder
    files = {p.name for p in finished.run.iterdir()}
    files |= set(re.findall(r'(?:run_dir|run\.path|self\.path|path)\s*/\s*"([\w.]+)"', code))
    files |= {"launch.json", "output.log", "stop", ".lr_find"}
    missing = sorted(f for f in files if f"`{f}" not in page and f not in page)
    assert not missing, f"files a run writes, not in docs/run-folder.md: {missing}"
    # event types: every type the code writes to an event log
    types = set(re.findall(r'\blog\.write\("(\w+)"', code)) | set(re.findall(r'\.write\("(\w+)",', code))
    assert {"status", "batch", "epoch", "note", "heartbeat", "lr", "scores"} <= types
    missing = sorted(t for t in types if f"| `{t}` |" not in page)
    assert not missing, f"event types not in docs/run-folder.md's table: {missing}"
    # config.json: every key, and the keys of its settings
    config = json.loads((finished.run / "config.json").read_text())
    keys = set(config) | set(config["data"]) | set(config["train"]) | set(config["dataset"])
    missing = sorted(k for k in keys if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", page))
    assert not missing, f"config.json keys not in docs/run-folder.md: {missing}"


def test_every_file_a_prediction_writes_is_in_the_prediction_page():
    page = words("prediction.md")
    code = (ROOT / "seg" / "prediction" / "output.py").read_text()
    names = set(re.findall(r'out\s*/\s*"([\w.]+)"', code))
    assert {"masks", "previews", "metrics.json", "measurements.csv", "prediction.json"} <= names
    assert not [n for n in names if f"`{n}" not in page]


def test_every_link_leads_somewhere():
    broken = []
    for page in [ROOT / "README.md", ROOT / "DEVELOPERS.md", *DOCS.glob("*.md")]:
        text = re.sub(r"`[^`]*`", "", page.read_text(encoding="utf-8"))  # code spans quote, they do not link
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_the_size_limits_in_the_data_page_are_the_code_s():
    from seg.data.images import MAX_DECODED_BYTES, max_pixels
    page = re.sub(r"\s+", " ", words("data.md"))
    assert f"{MAX_DECODED_BYTES:,} bytes ({MAX_DECODED_BYTES / 2**30:g} GiB)" in page
    assert f"{max_pixels():,} pixels" in page


# -- figures the docs quote from the code ---------------------------------------------------------------------

FIGURES = [
    # (the code's value: "module: expression", "pages/x.py: fragment" (its run_every) or "python -m seg: command
    #  --option ..." (the parser's defaults); the page that quotes it, or a section of it (#anchor); the words
    #  that quote it, a format of the value ({} fields take a tuple's items in turn)).  A figure is one line.
    ("seg.training.pace: CPU_PACE / GPU_PACE", "docs/training.md", "{:,.0f} times faster than that CPU"),
    ("pages/train.py: live_status", "docs/training.md", "progress (epoch, batch and time left) every {:g} s"),
    ("pages/train.py: live_charts", "docs/training.md", "every {:g} s the charts"),
    ("pages/train.py: live_status", "docs/sharing.md", "redraws its progress every {:g} s"),
    ("pages/train.py: live_charts", "docs/sharing.md", "and its charts every {:g} s"),
    ("seg.training.halving: MAX_CANDIDATES", "docs/training.md", "at most {} of them are tried"),
    ("seg.training.halving: SMALLER", "docs/training.md", "a smaller size ({:g} of the longer side)"),
    ("seg.training.halving: LARGER, SMALLEST", "docs/training.md", "a larger size ({:g}; a second, smaller one, {:g},"),
    ("seg.training.halving: [sci(x) for x in LRS]", "docs/training.md", "the other rate ({} and {})"),
    ("seg.training.halving: [round(x * 100) for x in CLOSE_CALL]", "docs/training.md",
     "covers {} to {}% of the pixels"),
    ("seg.training.halving: words(TRIAL_SHARE), TRIAL_MAX_S / 60", "docs/training.md",
     "at most {} of the budget and {:g} minutes"),
    ("seg.training.halving: words(TRIAL_SHARE)", "docs/cli.md", "(up to {} of the time)"),
    ("seg.training.halving: words(TRIAL_SHARE)", "README.md", "for up to {} of the time"),
    ("seg.training.halving: MIN_STEPS", "docs/training.md", "can each train {} steps in their first turn"),
    ("seg.training.halving: MARGIN, words(SPREAD)", "docs/training.md",
     "by more than {:g} Dice and by more than {} standard errors"),
    ("seg.training.halving: MARGIN, words(SPREAD)", "docs/run-folder.md",
     "the rules' choice: {:g}, or {} standard errors"),
    ("seg.training.halving: NOTHING", "docs/training.md", "have Dice under {:g} (predicting only background)"),
    ("seg.training.trials: SCORE_IMAGES", "docs/training.md", "scored on up to {} validation images"),
    ("seg.training.trials: SCORE_IMAGES", "docs/run-folder.md", "on up to {} validation images at their own size"),
    ("seg.training.trials: CULL_IMAGES", "docs/training.md", "scores on the first {} of them"),
    ("seg.training.trials: CULL_IMAGES", "docs/run-folder.md", "in a round before the last on the first {} of them"),
    ("seg.training.trials: PROBE_STEPS", "docs/training.md", "starts with {} real steps"),
    ("seg.training.planner: list(BUDGETS)", "docs/training.md", "offers *{}*, *{}*, *{}* and *{}*"),
    ("seg.training.planner: UNTIL_STOPPED_MIN / 60", "docs/training.md", "plans for {:g} hours"),
    ("seg.training.planner: MIN_EPOCHS", "docs/training.md", "the largest at which {} epochs fit in the time"),
    ("seg.training.planner: THIN_PX", "docs/training.md", "under {:g} px wide"),
    ("seg.training.planner: WINDOW_SIDE, WINDOW_SIDE, THIN_PX", "docs/training.md#trials-the-plan-decided-on-your-data",
     "{} x {} px windows at the scale that keeps the thinnest structures {:g} px wide"),
    ("seg.model.settings: words(FG_SHARE)", "docs/training.md#windows-where-the-structures-are",
     "{} of the windows are centred on a pixel of a foreground class"),
    ("seg.data.scaled_crops: MAX_CROPS, VALID_CROPS", "docs/training.md#windows-where-the-structures-are",
     "(at most {} windows an image), new windows every epoch; the per-epoch scores are on up to {} fixed windows"),
    ("seg.model.registry: TRIED[0], BACKBONES[TRIED[0]].cost, DEFAULT_ARCH",
     "docs/training.md#trials-the-plan-decided-on-your-data",
     "the **other backbone**, {} (about {:g} of {}'s compute a step here"),
    ("seg.model.settings: MIN_SCALE, MAX_SCALE", "docs/cli.md", "scaled by S ({:g} to {:g};"),
    ("seg.model.settings: round(FG_SHARE, 3)", "docs/cli.md", "| `--fg-share F` | {:g} |"),
    ("seg.training.planner: RARE", "docs/training.md", "when a class covers under {:.0%} of the pixels"),
    ("seg.training.planner: FINDER_MIN_PAIRS, words(FINDER_SHARE)", "docs/training.md",
     "with fewer than {} training pairs or when the finder would take over {} of the time"),
    ("seg.training.lr_finder: PLANNED_STEPS", "docs/training.md", "`lr_find` valley when the run starts ({} steps,"),
    ("seg.training.planner: [sci(x) for x in LR_RANGE]", "docs/training.md", "steps, kept between {} and {}"),
    ("seg.training.lr_finder: STEPS", "docs/cli.md", "[--num-it {}]"),
    ("seg.training.lr_finder: STEPS", "docs/cli.md", "| `--num-it N` | {} |"),
    ("seg.model.losses: MAX_WEIGHT", "docs/training.md", "capped at {:g}"),
    ("seg.model.number_formats: MARGIN", "docs/training.md", "at least {:.0%} faster"),
    ("seg.prediction.inference: AGREE", "docs/training.md", "on {:.1%} of those images' pixels"),
    ("seg.prediction.inference: AGREE", "docs/prediction.md", "on {:.1%} of those images' pixels"),
    ("seg.prediction.runtimes: CALIBRATION", "docs/prediction.md#runtime", "measured on {} inputs prepared"),
    ("seg.prediction.runtimes: DICE_TOLERANCE", "docs/prediction.md#runtime", "within {:g} of float32's (the rule"),
    ("seg.prediction.runtimes: 1 - AGREE", "docs/prediction.md#runtime", "on more than {:.0%} of the pixels"),
    ("seg.prediction.runtimes: KEEP", "docs/prediction.md#runtime", "(the {} most recently used"),
    ("seg.prediction.runtimes: KEEP", "README.md#where-files-go", "the {} most recently used"),
    ("seg.prediction.runtimes: AUTO['cpu']", "docs/cli.md#predict", "`auto`: `{}` on the CPU"),
    ("seg.prediction.tiles: TILE_MARGIN, words(OVERLAP)", "docs/prediction.md",
     "more than {:g} times the training images' size is not squeezed"),
    ("seg.prediction.tiles: words(OVERLAP)", "docs/prediction.md", "({} of each side shared)"),
    ("seg.prediction.export: sci(TOLERANCE)", "docs/cli.md", "A logit more than {} from PyTorch's"),
    ("seg.objects.split: min(SEEDS), max(SEEDS)", "docs/training.md", "The threshold ({:g} to {:g})"),
    ("seg.objects.ids: MIN_IDS", "docs/data.md", "the masks hold {} or more ids at the median"),
    ("seg.data.codes: MAX_CLASSES", "docs/data.md", "with {} colours or fewer"),
    ("seg.data.codes: MAX_CLASSES", "docs/data.md", "more values than {} classes could be"),
    ("seg.runs.events: HEARTBEAT_S", "docs/run-folder.md", "written every {:g} s while the process lives"),
    ("seg.runs.events: SILENT_S / 60", "docs/run-folder.md", "no event for {:g} minutes"),
    # the defaults
    ("seg.model.settings: TrainSettings().epochs, sci(TrainSettings().lr), TrainSettings().arch",
     "docs/training.md", "**{} epochs, learning rate {}, {},"),
    ("seg.model.settings: DataSettings().size", "docs/training.md", "+ Dice, {} px, augmented**"),
    ("seg.model.settings: TrainSettings().epochs", "docs/cli.md#train-and-lr-find", "| `--epochs N` | {} |"),
    ("seg.model.settings: sci(TrainSettings().lr)", "docs/cli.md#train-and-lr-find", "| `--lr X` | {} |"),
    ("seg.model.settings: DataSettings().bs", "docs/cli.md#train-and-lr-find", "| `--bs N` | {} |"),
    ("seg.model.settings: DataSettings().size", "docs/cli.md#train-and-lr-find",
     "| `--size PX` or `--size H W` | {} |"),
    ("seg.model.settings: TrainSettings().arch", "docs/cli.md#train-and-lr-find", "| `--arch NAME` | {} |"),
    ("seg.model.settings: DataSettings().valid_pct", "docs/cli.md#train-and-lr-find", "| `--valid-pct X` | {:g} |"),
    ("seg.model.settings: DataSettings().seed", "docs/cli.md#train-and-lr-find", "| `--seed N` | {} |"),
    ("seg.model.settings: TrainSettings().loss", "docs/cli.md#train-and-lr-find", "| `--loss NAME` | {} |"),
    ("seg.model.settings: DataSettings().workers", "docs/cli.md#train-and-lr-find", "| `--workers N` | {} |"),
    ("seg.model.settings: TrainSettings().precision", "docs/cli.md#train-and-lr-find", "| `--precision P` | {} |"),
    ("seg.model.settings: DataSettings().valid_pct", "docs/data.md", "a seeded random {:.0%} is"),
    ("seg.model.settings: said(TrainSettings(epochs=0).check)", "docs/bad-input.md", "| settings | 2 | error: {} |"),
    ("seg.model.settings: said(TrainSettings(epochs=100000).check)", "docs/bad-input.md",
     "| settings | 2 | error: {} |"),
    ("seg.model.settings: MAX_EPOCHS", "docs/bad-input.md", "use 1 to {}."),
    ("seg.model.settings: said(TrainSettings(lr=50).check)", "docs/bad-input.md", "| settings | 2 | error: {} |"),
    ("python -m seg: demo --n", "README.md", "{} microscopy-like images"),
    ("python -m seg: demo --n --size --seed", "docs/cli.md", "`demo OUT_DIR [--n {}] [--size {}] [--seed {}]"),
    ("python -m seg: inspect --valid-pct --seed", "docs/cli.md", "`inspect DATA_DIR [--json] [--per-image] "
                                                                 "[--codes a,b] [--valid-pct {:g}] [--seed {}]`"),
    ("python -m seg: predict --bs", "docs/cli.md#predict", "| `--bs N` | {} |"),
    ("python -m seg: predict --unit", "docs/cli.md#predict", "| `--unit U` | {} |"),
    ("python -m seg: predict --weights", "docs/cli.md#predict", "| `--weights best\\|last` | {} |"),
    ("python -m seg: label-next --bs", "docs/cli.md#label-next", "| `--bs N` | {} |"),
    ("seg.prediction.exports: '\\\\|'.join(FORMATS), DEFAULT", "docs/cli.md#export", "| `--format {}` | {} |"),
    ("seg.prediction.exports: '\\\\|'.join(FORMATS)", "docs/cli.md", "`export RUN_DIR --format {} --out DIR"),
    ("python -m seg: export --license", "docs/cli.md#export", "| `--license ID` | {} |"),
    ("python -m seg: serve --port", "docs/cli.md", "`serve [--port {}]"),
    # sharing: the sign-in throttle, uploads, paths
    ("seg.server.signin: FREE_TRIES, MAX_WAIT_S", "docs/sharing.md",
     "from one address {} tries are free, then each waits twice as long as the last (1 s, 2 s ... {:g} s)"),
    ("seg.server.signin: LOCK_AFTER, WINDOW_S / 60, LOCKOUT_S / 60", "docs/sharing.md",
     "and {} within {:g} minutes lock that address out for {:g} minutes"),
    ("seg.server.signin: *sorted(SERVER_STEPS)", "docs/sharing.md", "after {0[0]} wrong passwords every try anywhere "
     "waits {0[1]:g} s after the previous one ({1[1]:g} s after {1[0]}, {2[1]:g} s after {2[0]})"),
    ("seg.server.signin: LOCK_AFTER, WINDOW_S / 60", "docs/sharing.md", "at most {} tries checked in {:g} minutes"),
    ("seg.server.signin: max(SERVER_STEPS)[::-1]", "docs/sharing.md",
     "at most one try every {:g} s once {} have failed"),
    ("seg.server.signin: max(SERVER_STEPS)[1]", "docs/sharing.md", "(at most {:g} s a try)"),
    ("seg.server.signin: LOCK_AFTER, WINDOW_S / 60, LOCKOUT_S / 60", "docs/troubleshooting.md",
     "{} wrong tries from one address within {:g} minutes lock that address out for {:g} minutes"),
    ("seg.data.uploads: MAX_UPLOAD / 2**30", "docs/sharing.md", "{:g} GB a file"),
    ("seg.data.uploads: MAX_SESSION_UPLOADS / 2**30", "docs/sharing.md", "{:g} GB a tab in all"),
    ("seg.data.uploads: MAX_UPLOAD / 2**30, MAX_SESSION_UPLOADS / 2**30", "docs/data.md",
     "{:g} GB a file and {:g} GB a tab"),
    ("seg.data.uploads: MAX_FILES", "docs/data.md", "more than {:,} files"),
    ("seg.data.uploads: MAX_SESSION_UNPACKED / 2**30, MIN_FREE / 2**30", "docs/data.md",
     "unpacked, a tab's uploads take {:g} GiB at most in all, and nothing is unpacked that would leave the server's "
     "disk with less than {:g} GiB free"),
    ("seg.data.uploads: MAX_EXPANDED / 2**30, MAX_RATIO, SMALL / 2**20", "docs/data.md",
     "an expanded size over {:g} GiB or out of proportion to the archive (over {}x and over {:g} MiB)"),
    ("seg.server.scratch: STALE_S / 60", "docs/data.md", "{:g} minutes after the tab was last connected"),
    ("seg.data.large: REGION, REGION", "docs/data.md", "pairs of regions of up to {:,} x {:,} pixels, named"),
    ("seg.data.large: MAX_LARGE_PIXELS", "docs/data.md", "more than **{:,} pixels** (about"),
    ("seg.data.large: MAX_SEGMENT_BYTES", "docs/data.md", "a tile or strip that decodes to more than **{:,} bytes**"),
    ("seg.data.large: MAX_FREE_BYTES, MAX_RATIO", "docs/data.md", "more than {:,} bytes decoded from fewer than 1/{}"),
    ("seg.data.dataloaders: MAX_CROPS, VALID_CROPS", "docs/data.md",
     "as many an epoch as fit in the region, at most {}), and scores validation on up to {} fixed crops"),
    ("seg.prediction.large: TILE, TILE", "docs/prediction.md", "tiled in {} x {} tiles"),
    ("ui.zoom: WINDOW, WINDOW", "docs/data.md", "a window of {} x {} at its own pixels"),
    ("ui.zoom: WINDOW", "docs/labelling.md", "A window is at most {} pixels a side"),
    ("test_large: GROWTH_LIMIT_MIB", "docs/data.md", "peak memory growing by less than {} MiB"),
    ("seg.server.sharing: MAX_PATH, MAX_NAME", "docs/sharing.md", "at most {:,} bytes, {} per name"),
]

WORDS = {0.1: "a tenth", 0.25: "a quarter", 0.5: "half", 1 / 3: "a third", 2: "two", 3: "three"}


def sci(x: float) -> str:
    "1e-3, as the docs write a learning rate"
    return f"{x:.0e}".replace("e-0", "e-")


def said(check) -> str:
    "The one line a refusal says."
    from seg.errors import SettingsError
    try:
        check()
    except SettingsError as e:
        return str(e)
    raise AssertionError(f"{check} refused nothing")


def run_every(page: Path, fragment: str) -> float:
    "How often `@st.fragment(run_every=X if active else None)` redraws the function `fragment` of a page, in s."
    import ast
    for node in ast.walk(ast.parse(page.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == fragment:
            for deco in node.decorator_list:
                for kw in getattr(deco, "keywords", []):
                    if kw.arg == "run_every":
                        return ast.literal_eval(kw.value.body if isinstance(kw.value, ast.IfExp) else kw.value)
    raise AssertionError(f"{page}: no fragment {fragment} with run_every")


def value(spec: str):
    "What a FIGURES entry names, from the code."
    import argparse
    import importlib
    where, expr = (s.strip() for s in spec.split(":", 1))
    if where.endswith(".py"):
        return run_every(ROOT / where, expr)
    if where == "python -m seg":
        command, *flags = expr.split()
        sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
        found = {flag: a.default for a in sub._actions for flag in a.option_strings}
        return tuple(found[f] for f in flags) if len(flags) > 1 else found[flags[0]]
    names = {**vars(importlib.import_module(where)), "sci": sci, "said": said, "words": WORDS.__getitem__}
    return eval(f"({expr},)" if "," in expr or expr.startswith("*") else expr, names)


def section(page: str) -> str:
    "A page's text, or with #anchor the text of that section (its heading to the next of the same level or above)."
    name, _, anchor = page.partition("#")
    text = (ROOT / name).read_text(encoding="utf-8")
    if not anchor:
        return text
    lines = text.splitlines()
    starts = [(i, len(m[1]), slug(m[2])) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    for k, (i, level, s) in enumerate(starts):
        if s == anchor:
            end = next((j for j, lv, _ in starts[k + 1:] if lv <= level), len(lines))
            return "\n".join(lines[i:end])
    raise AssertionError(f"{name} has no section #{anchor}")


def test_every_figure_the_docs_quote_is_the_code_s():
    """Each figure in FIGURES, made from the code's value, is on the page that quotes it (whitespace and line
    breaks aside): a changed default fails here until its page says it."""
    wrong = []
    for spec, page, words in FIGURES:
        v = value(spec)
        quoted = words.format(*v) if isinstance(v, tuple | list) else words.format(v)
        if quoted not in re.sub(r"\s+", " ", section(page)):
            wrong.append(f"{page} does not say {quoted!r} (from {spec} = {v!r})")
    assert not wrong, "\n".join(wrong)


# -- anchors: the docs' own links, and the docs the code sends users to -------------------------------------------

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def slug(heading: str) -> str:
    "GitHub's anchor for a heading: its text (links and code spans as text), lower case, punctuation dropped."
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    "Every anchor a page's headings make (a repeated heading gets -1, -2 ... as on GitHub)."
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)  # code is not headings
    made, seen = set(), {}
    for line in text.splitlines():
        if m := HEADING.match(line):
            s = slug(m[2])
            made.add(f"{s}-{seen[s]}" if s in seen else s)
            seen[s] = seen.get(s, 0) + 1
    return made


def test_every_anchor_in_the_docs_is_a_heading():
    broken = []
    for page in [ROOT / "README.md", ROOT / "DEVELOPERS.md", *DOCS.glob("*.md")]:
        text = re.sub(r"`[^`]*`", "", page.read_text(encoding="utf-8"))
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            if anchor not in anchors(page.parent / target if target else page):
                broken.append(f"{page.relative_to(ROOT)} -> {target}#{anchor}")
    assert not broken, broken


def test_every_page_the_code_sends_users_to_exists():
    """Every docs/ page (and #section) that the code names, in a message, a help text, a docstring or a comment,
    exists; and the UI and the CLI name a docs/ page, never "the README" (its sections move)."""
    import ast
    sources = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py")),
               *sorted((ROOT / "seg").rglob("*.py"))]
    broken, named = [], 0
    for path in sources:
        source = path.read_text(encoding="utf-8")
        found = re.findall(r"\b(docs/[\w.-]+\.md)(?:#([\w-]+))?", source)  # a bare README.md is an export's own
        for page, anchor in found + re.findall(r"\b(README\.md)#([\w-]+)", source):
            named += 1
            if not (ROOT / page).is_file():
                broken.append(f"{path.relative_to(ROOT)}: {page} does not exist")
            elif anchor and anchor not in anchors(ROOT / page):
                broken.append(f"{path.relative_to(ROOT)}: {page} has no heading #{anchor}")
        if path.parent.name in ("pages", "ui", "cli") or path.name == "app.py":
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and "README" in node.value:
                    broken.append(f"{path.relative_to(ROOT)}: {node.value[:80]!r} names the README: name a docs/ page")
    assert named >= 6  # the train page's epochs, the CLI's --json, the app's sharing warning ...
    assert not broken, "\n".join(broken)


def test_every_folder_of_the_workspace_is_in_where_files_go():
    "Each folder seg/server/workspace.py makes under the home is in the README's Where files go."
    code = (ROOT / "seg" / "server" / "workspace.py").read_text(encoding="utf-8")
    folders = set(re.findall(r'home\(\)\s*/\s*"([\w-]+)"', code))
    assert {"runs", "cache", "demo", "sessions"} <= folders
    where = section("README.md#where-files-go")
    missing = sorted(f for f in folders if f"`{f}/`" not in where)
    assert not missing, f"workspace folders not in the README's Where files go: {missing}"
    assert "SEGBOARD_LOCK_DIR" in where  # the locks, outside the workspace


# -- the export formats: seg/prediction/exports.py is the one list ------------------------------------------------

def test_the_export_formats_of_the_cli_the_page_and_the_docs_are_the_registry_s(finished, home):
    """`seg export --format` offers the registry's formats (its help their one line, their options), the Predict
    page a button for each, and docs/cli.md#export's table lists them, each with its one line and its check: a
    format is one entry of seg/prediction/exports.py, and this fails until the page and the docs follow it."""
    import argparse

    from apps import open_app
    from training import RUN

    from seg.prediction.exports import DEFAULT, FORMATS, options
    names = list(FORMATS)
    # the CLI
    export = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["export"]
    fmt = next(a for a in export._actions if "--format" in a.option_strings)
    assert list(fmt.choices) == names and fmt.default == DEFAULT
    assert all(f"{f.name}: {f.a_label}, {f.about}" in fmt.help for f in FORMATS.values())
    assert set(options()) <= {flag for a in export._actions for flag in a.option_strings}
    # the page
    finished.into(home)
    at = open_app("predict", run=RUN, timeout=240)
    assert not at.exception, at.exception
    buttons = [b for b in at.button if (b.key or "").startswith("export_")]
    assert [b.key for b in buttons] == [f"export_{n}" for n in names]
    assert [b.label for b in buttons] == [f"Export as {f.a_label}" for f in FORMATS.values()]
    # the docs: the table of formats, row by row
    lines = section("docs/cli.md#export").splitlines()
    start = lines.index("| format | what | checked with |") + 2  # the header, then its |---| line
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = lines[start:end]
    assert [re.match(r"\| `([\w-]+)` \|", r)[1] for r in rows] == names
    assert rows == [f"| `{f.name}` | {f.a_label}: {f.about} | {f.checked_with} |" for f in FORMATS.values()]
    prediction = re.sub(r"\s+", " ", words("prediction.md"))  # the page's section names each format
    assert all(f"**{f.label}**" in prediction for f in FORMATS.values())
