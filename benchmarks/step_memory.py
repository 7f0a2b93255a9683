"""Memory and speed of a training step: the chunked linear + cross-entropy loss against the plain one at vocabularies
of 8k, 32k and 128k tokens, and gradient checkpointing off and on.

One training step of the small preset (6 layers, d_model 256, context 256, batch 16: 4,096 predicted tokens) with
AdamW, in bf16 autocast (and fp32 with --fp32). Each configuration runs in a fresh process, so that its peak
resident memory is its own: printed are tokens/s (median of the timed steps), the peak RSS, the peak above the
model and optimizer (what the step itself adds), and the ratios to the vocabulary's first configuration (the plain
loss without checkpointing, by default) measured in this run.

    python benchmarks/step_memory.py [--vocab 8192 32768 131072] [--chunks 0 1024 auto] [--checkpointing off on]
                                     [--steps 4] [--fp32]

`auto` is pretraining's default, `loss_chunk_for(vocab)` rows (32M logits a chunk); 0 is the plain loss.
"""
import argparse, json, resource, statistics, subprocess, sys, time

B, T = 16, 256

def rss_mib() -> float:
    "The resident memory of this process now."
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

def measure(vocab: int, chunk: int, checkpointing: int, steps: int, precision: str) -> dict:
    """Tokens/s and peak memory of training steps at `vocab` with `loss_chunk=chunk` (0: the plain loss), with
    gradient checkpointing if `checkpointing`."""
    import torch
    from shoptasks.model import preset_config, build_model, loss_chunk_for
    from shoptasks.trainer import autocast
    chunk = loss_chunk_for(vocab) if chunk < 0 else chunk
    torch.manual_seed(0)
    model = build_model(preset_config("small", vocab_size=vocab, loss_chunk=chunk)).train()
    if checkpointing: model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=dict(use_reentrant=False))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, vocab, (B, T))
    for p in model.parameters(): p.grad = torch.zeros_like(p)       # the gradients' memory is the model's
    opt.step()                                                      # and so is the optimizer's state
    before = rss_mib()
    times = []
    for i in range(steps + 1):                                      # the first step is a warm-up
        t = time.perf_counter()
        with autocast(precision): loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        if i: times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(vocab=vocab, chunk=chunk, checkpointing=checkpointing, tokens_per_s=B * T / statistics.median(times), peak_mib=peak,
                step_mib=peak - before, loss=loss.item())

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, nargs="+", default=[8192, 32768, 131072])
    ap.add_argument("--chunks", nargs="+", default=["0", "1024", "auto"], help="rows per chunk; 0: the plain loss")
    ap.add_argument("--checkpointing", nargs="+", default=["off"], choices=["off", "on"],
                    help="gradient checkpointing off, on, or both")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per configuration (after one warm-up)")
    ap.add_argument("--fp32", action="store_true", help="train in fp32 instead of bf16 autocast")
    ap.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)    # run one configuration (in a child)
    args = ap.parse_args()
    precision = "fp32" if args.fp32 else "bf16"
    if args.one: return print(json.dumps(measure(*args.one, args.steps, precision)))
    print(f"small preset, batch {B} x {T} tokens, {precision}, median of {args.steps} steps, each in its own process")
    print(f"{'vocab':>7} {'loss_chunk':>10} {'ckpt':>4} {'tokens/s':>9} {'peak MiB':>9} {'step MiB':>9} {'speed':>6} "
          f"{'step mem':>8}")
    for vocab in args.vocab:
        first = None
        for name in args.chunks:
            for checkpointing in args.checkpointing:
                chunk = -1 if name == "auto" else int(name)
                cmd = [sys.executable, __file__, "--one", str(vocab), str(chunk), str(int(checkpointing == "on")),
                       "--steps", str(args.steps)]
                r = json.loads(subprocess.run(cmd + (["--fp32"] if args.fp32 else []), capture_output=True, text=True,
                                              check=True).stdout)
                first = first or r
                label = f"auto {r['chunk']}" if name == "auto" else (chunk or "plain")
                print(f"{vocab:>7} {label:>10} {checkpointing:>4} {r['tokens_per_s']:>9,.0f} {r['peak_mib']:>9,.0f} "
                      f"{r['step_mib']:>9,.0f} {r['tokens_per_s'] / first['tokens_per_s']:>5.2f}x "
                      f"{r['step_mib'] / first['step_mib']:>7.2f}x", flush=True)

if __name__ == "__main__": main()
