"""The table of `benchmarks/gpu.sh`: each run's tokens/s and model-FLOPs utilisation (MFU) against this GPU's matrix
product throughput, measured here, and against its datasheet's dense peak where the GPU is one we know.

    python benchmarks/gpu_table.py OUT        (OUT: the folder gpu.sh wrote)
"""
import json, statistics, sys, time
from pathlib import Path
import torch
from transformers import AutoConfig
from shoptasks.model import flops_per_token

PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}  # dense bf16/fp16

def matmul_flops(dtype, n: int = 8192, reps: int = 20) -> float:
    "FLOP/s of an n x n matrix product in `dtype` on this GPU (median of `reps`)."
    a, b = torch.randn(n, n, dtype=dtype, device="cuda"), torch.randn(n, n, dtype=dtype, device="cuda")
    times = []
    for i in range(reps + 3):
        torch.cuda.synchronize(); t = time.perf_counter(); a @ b; torch.cuda.synchronize()
        if i >= 3: times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times)

def main(out: Path):
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK.items() if k in name), None)
    ceiling = {p: matmul_flops(d) for p, d in (("bf16", torch.bfloat16), ("fp16", torch.float16))}
    print(f"{name}: measured matmul {ceiling['bf16'] / 1e12:.0f} TFLOP/s bf16, {ceiling['fp16'] / 1e12:.0f} fp16; "
          f"datasheet dense peak {f'{peak / 1e12:.0f} TFLOP/s' if peak else 'unknown'}")
    print(f"{'run':<28}{'processes':>10}{'tokens/s':>12}{'MFU (matmul)':>14}{'MFU (peak)':>12}")
    for run in sorted(p for p in out.iterdir() if p.name.startswith(("pretrain-", "fsdp-"))):
        m = json.loads((run/"metrics.json").read_text())
        flops = flops_per_token(AutoConfig.from_pretrained(run), m["params"]) * m["tokens_per_s"]
        per_gpu = flops / m["processes"]
        print(f"{run.name:<28}{m['processes']:>10}{m['tokens_per_s']:>12,.0f}{per_gpu / ceiling[m['precision']]:>14.1%}"
              f"{f'{per_gpu / peak:.1%}' if peak else '-':>12}")
    lora = json.loads((out/"lora"/"metrics.json").read_text())
    print(f"LoRA fine-tune: {lora['steps']} steps in {lora['train_time_s']:.0f} s; "
          f"test {json.dumps(lora['test']['model'])}")

if __name__ == "__main__": main(Path(sys.argv[1]))
