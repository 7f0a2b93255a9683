"""Training throughput: our Transformer against transformers' GPT2LMHeadModel at the same size.

6 layers, d_model 256, 4 heads, context 256, batch 16, vocabulary 8192; the same AdamW (the trainer's: fused) and
thread count; our model with pretraining's default loss (the chunked linear + cross-entropy, `loss_chunk_for`).
Each model is timed in every mode (eager or torch.compile, fp32 or bf16 autocast) after warm-up, and
compared in its fastest one. Prints tokens/s (median step), the ratio ours/HF, model-FLOPs utilisation
against the matmul throughput measured in this run, the share of a real training run's step time
spent waiting for data, and the ratio our model would reach if everything but its matrix products
took no time (the profiler's time in mm/addmm/bmm): an upper bound on any speed-up at this size.

    python benchmarks/train_throughput.py [--steps 12] [--precisions fp32 bf16]

(On a CPU without bf16 instructions, AVX512-BF16 or AMX, bf16 is emulated and an order of magnitude slower: measure
fp32 alone there.)
"""
import argparse, statistics, tempfile, time
from pathlib import Path
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from shoptasks.model import preset_config, build_model, count_params, flops_per_token, loss_chunk_for
from shoptasks.trainer import autocast
from shoptasks.default_plugins import param_groups

V, B, T = 8192, 16, 256

def matmul_ceiling(dtype, n=2048, reps=10) -> float:
    "FLOP/s of an n x n matrix product in `dtype` (median of `reps`)."
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3): a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times)

def trainer_for(make_model, precision: str, compiled: bool):
    "A function running one training step of a fresh model on a fixed batch."
    torch.manual_seed(0)
    model = make_model().train()
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95), fused=True)
    forward = torch.compile(model) if compiled else model
    x = torch.randint(0, V, (B, T))
    def step():
        with autocast(precision): loss = forward(input_ids=x, labels=x).loss
        loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
    for _ in range(3): step()                                     # warm-up (compilation happens here)
    return step

def tokens_per_s(step, steps: int) -> float:
    times = []
    for _ in range(steps):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    return B * T / statistics.median(times)

MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}

def step_profile(step, steps: int = 3) -> tuple[float, list]:
    "Seconds per step spent in matrix products, and the ten slowest other operations (name, seconds per step)."
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps): step()
    ops = [(e.key, e.self_cpu_time_total / 1e6 / steps) for e in prof.key_averages()]
    others = sorted(((k, s) for k, s in ops if k not in MATMULS), key=lambda x: -x[1])[:10]
    return sum(s for k, s in ops if k in MATMULS), others

def data_wait_share() -> float:
    "Share of step time waiting for data in a real (short) pretraining run of the small preset."
    from shoptasks.sample import make_shop, write_shop
    from shoptasks.pretraining import pretrain
    with tempfile.TemporaryDirectory() as d:
        shop = write_shop(make_shop(), Path(d)/"shop")
        m = pretrain(data=str(shop/"corpus.txt"), out=str(Path(d)/"run"), preset="small", vocab_size=V, max_steps=40,
                     eval_every=1000, quiet=True)
    return m["data_wait"]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    ours = lambda: build_model(preset_config("small", vocab_size=V, loss_chunk=loss_chunk_for(V)))
    gpt2 = lambda: GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=256, n_layer=6, n_head=4,
                                              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    print(f"threads: {torch.get_num_threads()}")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    ceilings = {p: [matmul_ceiling(dtypes[p])] for p in args.precisions}
    flops = flops_per_token(preset_config("small", vocab_size=V), count_params(ours()))
    results, steps = {}, {}
    for name, make in (("shoptasks", ours), ("hf-gpt2", gpt2)):
        for precision in args.precisions:
            for compiled in (False, True):
                step = trainer_for(make, precision, compiled)
                results[(name, precision, compiled)] = tps = tokens_per_s(step, args.steps)
                if name == "shoptasks": steps[(precision, compiled)] = step
                print(f"{name:<10} {precision} {'compiled' if compiled else 'eager   '} {tps:>8,.0f} tokens/s", flush=True)
    for precision in args.precisions: ceilings[precision].append(matmul_ceiling(dtypes[precision]))
    ceiling = {k: max(v) for k, v in ceilings.items()}          # the machine's speed drifts: take the better reading
    print("\nmatmul ceiling (2048^3, at the start and the end): " +
          ", ".join(f"{k} {v[0] / 1e9:,.0f} and {v[1] / 1e9:,.0f} GFLOP/s" for k, v in ceilings.items()))
    for (name, precision, compiled), tps in results.items():
        print(f"{name:<10} {precision} {'compiled' if compiled else 'eager   '} MFU {tps * flops / ceiling[precision]:.1%}")
    best = {n: max((v, k) for k, v in results.items() if k[0] == n) for n in ("shoptasks", "hf-gpt2")}
    (ov, ok), (hv, hk) = best["shoptasks"], best["hf-gpt2"]
    print(f"\nfastest: shoptasks {ov:,.0f} tokens/s ({ok[1]}, {'compiled' if ok[2] else 'eager'}), "
          f"hf-gpt2 {hv:,.0f} tokens/s ({hk[1]}, {'compiled' if hk[2] else 'eager'}): ratio {ov / hv:.2f}")
    print(f"shoptasks MFU: {ov * flops / ceiling[ok[1]]:.1%} of the {ok[1]} matmul ceiling")
    matmul_s, others = step_profile(steps[ok[1:]])
    bound = B * T / matmul_s
    print(f"its matrix products alone take {matmul_s:.3f} s a step: were all else free, it would run at "
          f"{bound:,.0f} tokens/s, a ratio of {bound / hv:.2f} and an MFU of {bound * flops / ceiling[ok[1]]:.1%}")
    print(f"ours at {ov / bound:.1%} of that bound; the slowest other operations of its step (self time, s):")
    for name, sec in others: print(f"  {name:<48} {sec:.4f}")
    print(f"share of step time waiting for data: {data_wait_share():.2%}")

if __name__ == "__main__": main()
