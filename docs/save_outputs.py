"""Save the outputs a reader of the notebooks on GitHub should see, as fastcore's notebooks do.

Each library notebook is run twice, each time in a fresh interpreter from its own folder (as `nbdev_test` runs it).
A code cell keeps its outputs where both runs gave the same small output (text, or a plot under 100 kB) that names
no temporary or home path and holds no warning, progress bar or error; every other cell's outputs are cleared.
Nothing but the outputs changes. `make outputs` runs it; `python docs/save_outputs.py nbs/07a_inference.ipynb`
does one notebook."""
import argparse, json, multiprocessing, os, re, sys
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent / "nbs"
MAX_TEXT, MAX_IMAGE = 3000, 100_000
UNSTABLE = re.compile(r"/tmp|tmp[a-z0-9_]{6,}|0x[0-9a-f]{6,}|\d+(\.\d+)? ?(s|ms|seconds)\b|it/s|steps?/s|"
                      + re.escape(os.path.expanduser("~")), re.I)

def _skipped(cell) -> bool:
    "Cells `nbdev_test` does not run either: markdown, `#| eval: false`, and `nbdev_export()` calls."
    src = "".join(cell["source"])
    return (cell["cell_type"] != "code" or "nbdev_export(" in src
            or any(re.fullmatch(r"#\|\s*eval:\s*false\s*", line.strip(), re.I) for line in src.splitlines()))

def run(path: str) -> dict:
    "Each code cell's outputs (by cell id) from one run of the notebook `path`."
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    os.chdir(Path(path).parent)
    os.environ["IN_TEST"] = "1"
    nb = read_nb(path)
    CaptureShell(path).run_all(nb, exc_stop=True, preproc=_skipped)
    return {c["id"]: [dict(o) for o in c.get("outputs", [])] for c in nb.cells if c.cell_type == "code"}

def _plain(outputs: list) -> list:
    "The outputs as a notebook stores them, without execution counts."
    keep = []
    for o in outputs:
        o = json.loads(json.dumps(o, default=dict))
        if "execution_count" in o: o["execution_count"] = None
        keep.append(o)
    return keep

def worth_keeping(a: list, b: list) -> bool:
    "Whether two runs' outputs of a cell are the same, small, and free of anything that changes between machines."
    if not a or a != b: return False
    for o in a:
        kind = o["output_type"]
        if kind == "error" or (kind == "stream" and o.get("name") != "stdout"): return False
        data = o.get("data", {})
        if any(k.startswith("application/vnd.jupyter.widget") for k in data): return False
        if any(len("".join(v) if isinstance(v, list) else str(v)) > MAX_IMAGE for k, v in data.items()
               if k.startswith("image/")): return False
        text = "".join(o.get("text", [])) + "".join(data.get("text/plain", []))
        if len(text) > MAX_TEXT or UNSTABLE.search(text): return False
    return True

def save(path: Path, first: dict, second: dict) -> int:
    "Write the outputs worth keeping into the notebook at `path`; returns how many cells show outputs."
    nb = json.loads(path.read_text())
    shown = 0
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        a, b = _plain(first.get(c["id"], [])), _plain(second.get(c["id"], []))
        c["outputs"] = a if worth_keeping(a, b) else []
        c["execution_count"] = None
        shown += bool(c["outputs"])
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return shown

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every library notebook in nbs/)")
    ap.add_argument("--workers", type=int, default=2, help="notebooks run at once")
    args = ap.parse_args()
    paths = [Path(p).resolve() for p in args.notebooks] or sorted(NBS.glob("[0-9]*.ipynb"))
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        runs = pool.map(run, [str(p) for p in paths for _ in range(2)], chunksize=1)
    for k, p in enumerate(paths):
        print(f"{p.name}: {save(p, runs[2 * k], runs[2 * k + 1])} cells show their outputs")

if __name__ == "__main__": sys.exit(main())
