"""seg's packages form layers: no package imports one that imports it back, seg.util and seg.errors (the bottom)
import nothing from seg, and nothing in seg imports Streamlit or the app's ui/ and pages/.

Every import counts, read from the source with `ast`: at module level, inside a function, under TYPE_CHECKING.
A node is a package (seg/<pkg>/) or a top-level module (seg/util.py, seg/errors.py); seg/__init__.py and
seg/__main__.py are the library's front door and the CLI's, above everything, and count as nodes too."""

import ast
from collections import defaultdict
from pathlib import Path

from conftest import ROOT

SEG = ROOT / "seg"
BOTTOM = ("util", "errors")
FORBIDDEN = ("streamlit", "ui", "pages")


def node_of(module: str) -> str | None:
    "The graph's node a dotted module name belongs to: 'seg.data.images' -> 'data'; None outside seg."
    parts = module.split(".")
    if parts[0] != "seg":
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def file_node(path: Path) -> str:
    rel = path.relative_to(SEG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path):
    """Every (dotted module name, line) the file imports, at any depth; `from seg.x import y` gives seg.x and seg.x.y
    (y may be a module), `from seg import y` seg.y alone when y is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(("seg",) + path.relative_to(SEG).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                yield a.name, n.lineno
        elif isinstance(n, ast.ImportFrom):
            if n.level:  # relative: resolved against the file's package
                base = package.split(".")
                base = base[: len(base) - (n.level - 1)]
                module = ".".join(base + ([n.module] if n.module else []))
            else:
                module = n.module or ""
            named = [a.name for a in n.names if module != "seg" or (SEG / a.name).is_dir()
                     or (SEG / f"{a.name}.py").is_file()]
            if module != "seg" or len(named) < len(n.names):  # `from seg import run_report` is seg.run_report's
                yield module, n.lineno
            for name in named:
                yield f"{module}.{name}", n.lineno


def graph():
    "{(from node, to node): [file:line, ...]} between seg's nodes, and the imports of streamlit/ui/pages."
    edges, forbidden = defaultdict(list), []
    for path in sorted(SEG.rglob("*.py")):
        here = file_node(path)
        for module, line in imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.split(".")[0] in FORBIDDEN:
                forbidden.append(f"{where} imports {module}")
            there = node_of(module)
            if there is not None and there != here and where not in edges[(here, there)]:
                edges[(here, there)].append(where)
    return edges, forbidden


def components(nodes, edges):
    "Tarjan's strongly connected components."
    out = defaultdict(set)
    for a, b in edges:
        out[a].add(b)
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(out[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = set()
            while True:
                w = stack.pop()
                on.discard(w)
                c.add(w)
                if w == v:
                    break
            found.append(c)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def test_no_cycle_between_packages():
    edges, _ = graph()
    nodes = {n for e in edges for n in e}
    cycles = [c for c in components(nodes, edges) if len(c) > 1]
    lines = []
    for c in cycles:
        lines.append(f"cycle between {', '.join(sorted(c))}:")
        both = sorted(f"{a} <-> {b}" for a, b in edges if a < b and a in c and b in c and (b, a) in edges)
        lines.append(f"  imports both ways: {', '.join(both) or 'none (a longer loop)'}")
        for (a, b), wheres in sorted(edges.items()):
            if a in c and b in c:
                lines.append(f"  {a} -> {b}: " + ", ".join(wheres))
    assert not cycles, "\n".join(lines)


def test_the_bottom_imports_nothing_from_seg():
    edges, _ = graph()
    up = [f"{a} -> {b}: {', '.join(w)}" for (a, b), w in sorted(edges.items()) if a in BOTTOM]
    assert not up, "\n".join(up)
    for name in BOTTOM:
        assert (SEG / f"{name}.py").is_file(), f"seg/{name}.py is the bottom of the layers"


def test_seg_knows_nothing_of_the_app():
    _, forbidden = graph()
    assert not forbidden, "\n".join(forbidden)
