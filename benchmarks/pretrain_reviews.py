"""Pretraining on real reviews: our small model against transformers' GPT-2 at the same size and budget.

Women's E-Commerce Clothing Reviews (CC0), `Review Text`, split by row (i % 5 == 1 validation, 0 test),
8192-token byte-level BPE, 6 layers, d_model 256, 4 heads, context 256, batch 16, the same minutes of
training for each. Both train with the same loop, data order, evaluation and bigram baseline; only
the model and the recipe differ (ours: compiled, lr 2e-3; the reference: GPT2LMHeadModel, eager,
AdamW lr 1e-3, no weight decay, warm-up 100, cosine to 0: the Trainer defaults). Prints perplexities side by side, the ratio of tokens/s, and
three continuations of "This dress".

    python benchmarks/pretrain_reviews.py [--minutes 10] [--no-reference]
"""
import argparse, json
from pathlib import Path
from transformers import GPT2Config, GPT2LMHeadModel
from shoptasks import pretrain, generate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent/"shared"/"data"/"womens_clothing_reviews"/"reviews.csv.gz"

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--out", default=str(ROOT/"runs"/"bench-reviews"))
    ap.add_argument("--no-reference", dest="reference", action="store_false")
    args = ap.parse_args()
    common = dict(data=str(DATA), column="Review Text", vocab_size=8192, minutes=args.minutes, batch_size=16)
    ours = pretrain(out=f"{args.out}/shoptasks", preset="small", **common)
    rows = [("shoptasks small", ours)]
    if args.reference:
        gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=8192, n_positions=256, n_embd=256, n_layer=6, n_head=4,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
        ref = pretrain(out=f"{args.out}/gpt2", tokenizer=f"{args.out}/shoptasks", model=gpt2, lr=1e-3,
                       betas=(0.9, 0.999), weight_decay=0.0, warmup=100, min_lr_ratio=0.0, compile=False, **common)
        rows.append(("transformers GPT-2", ref))
    print(f"\n{'':<20}{'val ppl':>9}{'test ppl':>9}{'tokens/s':>10}{'tokens':>11}{'train s':>9}")
    for name, m in rows:
        print(f"{name:<20}{m['val_ppl']:>9.1f}{m['test_ppl']:>9.1f}{m['tokens_per_s']:>10,.0f}{m['tokens']:>11,}{m['train_time_s']:>9.0f}")
    print(f"{'bigram (add-k=' + format(ours['bigram_k'], 'g') + ')':<20}{ours['val_bigram_ppl']:>9.1f}{ours['test_bigram_ppl']:>9.1f}")
    if args.reference: print(f"tokens/s ratio shoptasks / GPT-2: {ours['tokens_per_s'] / ref['tokens_per_s']:.2f}")
    print('\n"This dress" ->')
    for s in generate(f"{args.out}/shoptasks", "This dress", n=3, max_new_tokens=40): print("   This dress" + s)
    Path(args.out, "summary.json").write_text(json.dumps({n: m for n, m in rows}, indent=1))

if __name__ == "__main__": main()
