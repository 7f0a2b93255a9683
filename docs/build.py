"""Build the documentation site offline, where Quarto (which `nbdev_docs` needs) is not installed.

Each notebook of `nbs/` becomes one page of `docs/_site/`: prose, code without nbdev's `#|` directives and
without prompts, the outputs of running it, and after each exported cell the API of the names it defines
(signature, docstring, and a dataclass's fields). Every page has the same navigation; nothing is fetched from
the network (no MathJax, no require.js, no fonts).

    python docs/build.py [--no-execute] [--out docs/_site]

`--no-execute` renders without running the notebooks (seconds instead of minutes), with the outputs saved in them
(`make outputs`); the browser test checks the site's structure on it.
"""
import argparse, ast, dataclasses, html, importlib, inspect, os, re, shutil, sys, tempfile
from pathlib import Path
import mistune, nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"

def pages() -> list[Path]:
    "The notebooks in reading order: the index, the library's notebooks by number, then the tutorials."
    return [NBS/"index.ipynb", *sorted(p for p in NBS.glob("[0-9]*.ipynb")), *sorted((NBS/"tutorials").glob("*.ipynb"))]

def title_of(nb) -> str:
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    m = re.search(r"^#\s+(.+)$", first, re.M)
    return m.group(1).strip() if m else "shoptasks"

def directives(source: str) -> tuple[dict, str]:
    "A code cell's nbdev directives (`#| name args`) and its source without them."
    found, kept = {}, []
    for line in source.splitlines():
        m = re.match(r"\s*#\|\s*([\w-]+)\s*(.*)", line)
        if m: found[m.group(1)] = m.group(2).strip()
        else: kept.append(line)
    return found, "\n".join(kept).strip("\n")

def module_of(nb) -> str | None:
    for c in nb.cells:
        if c.cell_type == "code":
            d, _ = directives(c.source)
            if "default_exp" in d: return "shoptasks." + d["default_exp"]

def api_markdown(module, source: str) -> str:
    "The API of the public top-level functions and classes that `source` (an exported cell) defines."
    try: tree = ast.parse(source)
    except SyntaxError: return ""
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    out = []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None: continue
        kind = "class" if inspect.isclass(obj) else "def"
        try: sig = str(inspect.signature(obj))
        except (TypeError, ValueError): sig = "(...)"
        if kind == "class" and dataclasses.is_dataclass(obj): sig = ""
        bases = "" if kind == "def" else "(" + ", ".join(b.__name__ for b in obj.__bases__ if b is not object) + ")"
        out.append(f"<div class='api'><div class='sig'><code>{kind} <b>{name}</b>{html.escape(bases if kind == 'class' else '')}"
                   f"{html.escape(sig)}</code></div>")
        doc = inspect.getdoc(obj) or ""
        if doc: out.append(mistune.html(doc))
        if dataclasses.is_dataclass(obj):
            from shoptasks.config import field_help, default_of
            helps = field_help(obj)
            rows = "".join(f"<tr><td><code>{f.name}</code></td><td><code>{html.escape(_type(f.type))}</code></td>"
                           f"<td><code>{html.escape(_default(default_of(f)))}</code></td><td>{html.escape(helps.get(f.name, ''))}</td></tr>"
                           for f in dataclasses.fields(obj))
            out.append(f"<table><tr><th>field</th><th>type</th><th>default</th><th></th></tr>{rows}</table>")
        out.append("</div>")
    return "\n".join(out)

def _type(t) -> str: return t if isinstance(t, str) else getattr(t, "__name__", None) if isinstance(t, type) else str(t).replace("typing.", "")
def _default(v) -> str: return "required" if v is dataclasses.MISSING else repr(v)

def prepare(nb, module) -> None:
    "Drop hidden and directive-only cells and `#|` lines; add the API after exported cells; drop stderr outputs."
    cells = []
    for c in nb.cells:
        if c.cell_type != "code":
            cells.append(c); continue
        d, src = directives(c.source)
        if "hide" in d or "default_exp" in d or not src: continue
        c.source = src
        c.outputs = [o for o in c.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        cells.append(c)
        if ("export" in d or "exports" in d) and module is not None:
            api = api_markdown(module, src)
            if api: cells.append(nbformat.v4.new_markdown_cell(api))
    nb.cells = cells

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - shoptasks</title><link rel="stylesheet" href="{up}style.css"></head>
<body><nav class="side"><a class="brand" href="{up}index.html">shoptasks</a><ul>{nav}</ul></nav>
<main>{body}<div class="pager">{prev}{next}</div></main></body></html>
"""

CSS = """body{margin:0;font:16px/1.6 system-ui,sans-serif;color:#222;display:flex}
nav.side{width:250px;min-height:100vh;background:#f5f6f8;border-right:1px solid #ddd;padding:1em;box-sizing:border-box;flex:none}
nav.side a{color:#333;text-decoration:none}nav.side .brand{font-weight:700;font-size:1.3em}
nav.side ul{list-style:none;padding:0}nav.side li{margin:.3em 0}nav.side li.here a{font-weight:700;color:#1f5fa8}
main{max-width:900px;padding:1em 2.5em;min-width:0}pre{background:#f7f7f7;padding:.7em;overflow-x:auto;border-radius:4px;font-size:14px}
.jp-OutputArea pre,.output pre{background:#fff;border-left:3px solid #ccc}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;vertical-align:top}
.api{border-left:4px solid #1f5fa8;padding:.2em 1em;margin:1em 0;background:#f9fbff}.api .sig code{font-size:15px}
.pager{display:flex;justify-content:space-between;margin:3em 0 1em;border-top:1px solid #ddd;padding-top:1em}
img{max-width:100%}
"""

def render(path: Path, execute: bool, timeout: int) -> str:
    "The page body of the notebook `path`: run (if `execute`), prepared, exported as HTML without prompts."
    nb = nbformat.read(path, as_version=4)
    if execute:
        print(f"running {path.relative_to(ROOT)}", flush=True)
        ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    mod = module_of(nb)
    prepare(nb, importlib.import_module(mod) if mod else None)
    exporter = HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    return exporter.from_notebook_node(nb)[0]

def build(out: Path, execute: bool = True, timeout: int = 1800, workers: int = 2) -> list[Path]:
    "Render every page into `out` (`workers` notebooks at a time); return the pages written."
    from concurrent.futures import ProcessPoolExecutor
    sys.path.insert(0, str(ROOT))
    paths = pages()
    names = ["index" if p.name == "index.ipynb" else f"{p.parent.name}/{p.stem}" if p.parent != NBS else p.stem for p in paths]
    titles = [title_of(nbformat.read(p, as_version=4)) for p in paths]
    with ProcessPoolExecutor(workers) as pool: bodies = list(pool.map(render, paths, [execute] * len(paths), [timeout] * len(paths)))
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for i, (name, body) in enumerate(zip(names, bodies)):
            up = "../" * name.count("/")
            nav = "".join(f"<li{' class=here' if j == i else ''}><a href='{up}{n}.html'>{html.escape(t)}</a></li>"
                          for j, (n, t) in enumerate(zip(names, titles)))
            prev = f"<a href='{up}{names[i - 1]}.html'>&larr; {html.escape(titles[i - 1])}</a>" if i else "<span></span>"
            nxt = f"<a href='{up}{names[i + 1]}.html'>{html.escape(titles[i + 1])} &rarr;</a>" if i + 1 < len(names) else ""
            target = staging/f"{name}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(PAGE.format(title=html.escape(titles[i]), up=up, nav=nav, body=body, prev=prev, next=nxt))
        (staging/"style.css").write_text(CSS + HtmlFormatter().get_style_defs(".highlight"))
        staging.chmod(0o755)
        if out.exists(): shutil.rmtree(out)
        os.replace(staging, out)
        return [out/f"{n}.html" for n in names]
    finally: shutil.rmtree(staging, ignore_errors=True)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT/"docs"/"_site"), help="folder to write the site into (default: docs/_site)")
    ap.add_argument("--no-execute", dest="execute", action="store_false", help="render without running the notebooks")
    args = ap.parse_args()
    pages_ = build(Path(args.out), args.execute)
    print(f"{len(pages_)} pages written to {args.out}; open {Path(args.out)/'index.html'}")
