"""Decoding speed: our Transformer's KV-cache decoding against transformers' GPT2LMHeadModel at the same size.

The small preset's shape (6 layers, d_model 256, 4 heads, context 256, vocabulary 8192), greedy decoding of 128 new
tokens after 64-token prompts, at batch 1 and 16, both through transformers' `generate` with their own caches. Each
model is timed in every mode (fp32, bf16 autocast; ours also through its own KV-cache loop, `generate_ids`) after a
warm-up and compared in its fastest one. Prints new tokens/s (median of `--repeats`) and the ratio ours/HF, measured
in the same run, and the ratio of the path users take (ours through `generate`, in the precision `predict` and `serve`
pick for the batch: `decoding_precision`). Untrained weights: speed does not depend on them (`min_new_tokens` keeps
every row generating to the end).

    python benchmarks/generation.py [--repeats 5] [--threads 2]
"""
import argparse, statistics, time
import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel
from shoptasks.model import preset_config, build_model, generate_ids
from shoptasks.trainer import autocast, pick_precision
from shoptasks.generation import decoding_precision

V, PROMPT, NEW = 8192, 64, 128

def ours():
    return build_model(preset_config("small", vocab_size=V, pad_token_id=0, eos_token_id=1)).eval()

def gpt2():
    c = preset_config("small", vocab_size=V)
    return GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=c.context, n_embd=c.d_model, n_layer=c.n_layer,
                                      n_head=c.n_head, pad_token_id=0, eos_token_id=1)).eval()

@torch.no_grad()
def new_tokens_per_s(model, batch: int, precision: str, repeats: int, own_loop: bool = False) -> float:
    "New tokens/s of greedy decoding: through transformers' `generate`, or (`own_loop`) our `generate_ids`."
    torch.manual_seed(0)
    ids = torch.randint(2, V, (batch, PROMPT))
    cfg = GenerationConfig(max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=0, eos_token_id=1)
    def run():
        with autocast(precision):
            if own_loop: generate_ids(model, ids, NEW)                      # no end token: all NEW tokens
            else: model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=cfg)
    run()                                                         # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
    return batch * NEW / statistics.median(times)

def main(repeats: int, threads: int):
    torch.set_num_threads(threads)
    models = dict(shoptasks=ours(), gpt2=gpt2())
    for batch in (1, 16):
        best, rates = {}, {}
        modes = [(n, m, p, False) for n, m in models.items() for p in ("fp32", "bf16")]
        modes += [("shoptasks", models["shoptasks"], p, True) for p in ("fp32", "bf16")]
        for name, model, precision, own in modes:
            r = new_tokens_per_s(model, batch, precision, repeats, own)
            mode = f"{precision}, {'generate_ids' if own else 'generate'}"
            print(f"batch {batch:>2}  {name:<10} {mode:<20}: {r:8,.0f} new tokens/s", flush=True)
            best[name] = max(best.get(name, (0.0, "")), (r, mode))
            rates[name, mode] = r
        (a, pa), (b, pb) = best["shoptasks"], best["gpt2"]
        print(f"batch {batch:>2}  fastest: shoptasks {a:,.0f} ({pa}), gpt2 {b:,.0f} ({pb}), ratio {a / b:.2f}x", flush=True)
        users = decoding_precision(pick_precision("auto"), batch)            # what predict, serve and the report use
        u = rates["shoptasks", f"{users}, generate"]
        print(f"batch {batch:>2}  the users' path (generate in {users}): shoptasks {u:,.0f}, against gpt2's fastest "
              f"{u / b:.2f}x", flush=True)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    main(**vars(ap.parse_args()))
