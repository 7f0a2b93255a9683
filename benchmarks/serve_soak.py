"""A bounded soak of `shoptasks serve`: every kind, OpenAI's routes and bad requests, mixed, for `--minutes`.

A real server on a loopback port serves three runs made once on the sample shop (review-sentiment, product-description
and next-item on a tiny pretrained backbone) with an API key and its limits; `--concurrency` clients send, at random,
predictions of each kind (1-4 inputs), OpenAI completions (streamed and not), and bad requests (an unknown role, run
or key, too many inputs, a malformed body, a body over the limit). Every good request must answer 200 (or 503, the
queue's own refusal, counted) and every bad one its 4xx. The server's resident memory is sampled every 5 s: its
growth from the first minute to the end is reported beside p50/p99 latency of each kind of request.

    python benchmarks/serve_soak.py [--minutes 2] [--concurrency 8]
"""
import argparse, asyncio, collections, json, random, socket, statistics, subprocess, sys, time
from pathlib import Path
import httpx

OUT, KEY = Path("runs/bench-soak"), "soak-key"

def runs() -> dict:
    "The three runs, made once: a tiny backbone pretrained 200 steps, each task fine-tuned 60 steps."
    from shoptasks.pretraining import pretrain
    from shoptasks.finetune import finetune
    from shoptasks.sample import sample_path
    backbone = OUT/"backbone"
    if not (backbone/"metrics.json").exists():
        pretrain(data=str(sample_path("corpus.txt")), out=str(backbone), preset="tiny", vocab_size=1024,
                 max_steps=200, eval_every=200, quiet=True, overwrite=True)
    made = {}
    tasks = (("sentiment", "review-sentiment"), ("descriptions", "product-description"), ("next", "next-item"))
    for name, task in tasks:
        made[name] = OUT/name
        if not (made[name]/"metrics.json").exists():
            finetune(task=task, backbone=str(backbone), out=str(made[name]), max_steps=60, eval_every=60,
                     final_eval_rows=20, quiet=True, overwrite=True)
    return made

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return float("nan")

def requests(rng: random.Random, items: list) -> tuple:
    "One request at random: (kind, method, path, body or raw bytes, headers, the statuses that are right)."
    auth, ok = {"Authorization": f"Bearer {KEY}"}, (200, 503)
    texts = ["Soft and warm, fits well", "Fell apart after a week", "Runs small but lovely colour", "Too thin"]
    n = rng.randint(1, 4)
    choice = rng.random()
    if choice < 0.3:
        body = {"inputs": [{"text": rng.choice(texts)} for _ in range(n)]}
        return "sentiment", "/v1/runs/sentiment/predict", body, auth, ok
    if choice < 0.45:
        body = {"inputs": [{"name": "Aster navy dress", "brand": "Aster"}] * n, "options": {"max_new_tokens": 16}}
        return "descriptions", "/v1/runs/descriptions/predict", body, auth, ok
    if choice < 0.6:
        body = {"inputs": [{"items": rng.sample(items, 3)} for _ in range(n)], "options": {"k": 5}}
        return "next", "/v1/runs/next/predict", body, auth, ok
    if choice < 0.75:
        body = dict(model="descriptions", prompt="Kestrel red wool scarf", max_tokens=16, stream=rng.random() < 0.5)
        return "openai", "/v1/completions", body, auth, ok
    bad = rng.choice([
        ("/v1/runs/sentiment/predict", {"inputs": [{"body": "x"}]}, auth, (422,)),
        ("/v1/runs/nope/predict", {"inputs": [{"text": "x"}]}, auth, (404,)),
        ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}]}, {"Authorization": "Bearer wrong"}, (401,)),
        ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}] * 65}, auth, (413,)),
        ("/v1/runs/sentiment/predict", b"{not json", auth, (422,)),
        ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x" * 1_100_000}]}, auth, (413,)),
        ("/v1/completions", dict(model="sentiment", prompt="x"), auth, (400,))])
    return ("bad",) + bad

async def soak(url: str, seconds: float, concurrency: int, items: list) -> tuple:
    latencies, counts, wrong = collections.defaultdict(list), collections.Counter(), []
    end = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=120) as client:
        async def worker(seed):
            rng = random.Random(seed)
            while time.perf_counter() < end:
                kind, path, body, headers, right = requests(rng, items)
                t = time.perf_counter()
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                r = await client.post(url + path, content=raw, headers={**headers, "Content-Type": "application/json"})
                latencies[kind].append(time.perf_counter() - t)
                counts[kind, r.status_code] += 1
                streamed = isinstance(body, dict) and body.get("stream")
                if r.status_code not in right or (streamed and r.status_code == 200 and "data: [DONE]" not in r.text):
                    wrong.append((kind, path, r.status_code, r.text[:200]))
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, counts, wrong

async def sample_memory(pid: int, seconds: float, every: float = 5.0) -> list:
    samples, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append((round(seconds - (end - time.perf_counter())), rss_mib(pid)))
        await asyncio.sleep(every)
    return samples

async def both(url, pid, seconds, concurrency, items):
    return await asyncio.gather(soak(url, seconds, concurrency, items), sample_memory(pid, seconds))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0, help="minutes of load (default 2)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    args = ap.parse_args()
    made = runs()
    items = json.loads((made["next"]/"items.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT/"key").write_text(KEY + "\n")
    port = free_port()
    exe = Path(sys.executable).parent/"shoptasks"
    proc = subprocess.Popen([str(exe), "serve", *(f"{n}={p}" for n, p in made.items()), "--port", str(port),
                             "--api-key-file", str(OUT/"key"), "--max-queue", "64"], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health").status_code == 200: break
            except httpx.TransportError: time.sleep(0.2)
        (latencies, counts, wrong), memory = asyncio.run(both(url, proc.pid, args.minutes * 60, args.concurrency,
                                                              items))
    finally:
        proc.terminate()
        proc.wait()
    first = [m for t, m in memory if t <= 60] or memory[:1]
    growth = memory[-1][1] / max(m for m in first) - 1
    print(f"{sum(counts.values()):,} requests in {args.minutes:g} min at concurrency {args.concurrency}")
    for kind in sorted(latencies):
        q = statistics.quantiles(latencies[kind], n=100) if len(latencies[kind]) > 1 else latencies[kind] * 99
        statuses = ", ".join(f"{s}: {n}" for (k, s), n in sorted(counts.items()) if k == kind)
        print(f"  {kind:<13} {len(latencies[kind]):6,}  p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms  "
              f"({statuses})")
    print(f"server memory: {max(first):.0f} MiB in the first minute, {memory[-1][1]:.0f} MiB at the end "
          f"({growth:+.1%}); wrong answers: {len(wrong)}")
    for w in wrong[:10]: print("  wrong:", w)
    (OUT/"results.json").write_text(json.dumps(dict(
        minutes=args.minutes, concurrency=args.concurrency, counts={f"{k} {s}": n for (k, s), n in counts.items()},
        p99_ms={k: statistics.quantiles(v, n=100)[98] * 1000 for k, v in latencies.items() if len(v) > 1},
        memory_mib=memory, growth=growth, wrong=wrong), indent=1))
    if wrong: raise SystemExit(f"{len(wrong)} wrong answers")

if __name__ == "__main__": main()
