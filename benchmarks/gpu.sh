#!/usr/bin/env bash
# The GPU checks, prepared to run wherever a CUDA GPU is available (none is here: CI and the developers' machines have
# CPUs only). On the sample shop, through the `shoptasks` command a user runs:
#   1. pretraining throughput in bf16 and in fp16 (with the loss scaler), eager and compiled;
#   2. FSDP over NCCL: torchrun on every GPU of the machine (sharded where there are 2 or more);
#   3. a LoRA fine-tune of the bf16 model;
#   4. a table: tokens/s, and model-FLOPs utilisation against this GPU's matrix-product throughput measured in this
#      run (a bf16/fp16 matmul's FLOP/s) and against its datasheet peak where the GPU is one we know.
#
#   bash benchmarks/gpu.sh [OUT] [STEPS]        (default runs/gpu, 300 steps; about 5 minutes on one H100)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${1:-runs/gpu}
STEPS=${2:-300}
"$BIN/python" -c "import torch, sys; torch.cuda.is_available() or sys.exit('benchmarks/gpu.sh: no CUDA GPU here')"
GPUS=$("$BIN/python" -c "import torch; print(torch.cuda.device_count())")
rm -rf "$OUT"; mkdir -p "$OUT"
"$BIN/python" -c "from shoptasks.sample import make_shop, write_shop; write_shop(make_shop(), '$OUT/shop')"
common=(--data "$OUT/shop/corpus.txt" --preset small --vocab-size 8192 --batch-size 64 --max-steps "$STEPS"
        --eval-every "$STEPS")
for precision in bf16 fp16; do
    for compile in --no-compile --compile; do
        "$BIN/shoptasks" pretrain "${common[@]}" --precision "$precision" "$compile" --out "$OUT/pretrain-$precision$compile"
    done
done
"$BIN/torchrun" --standalone --nproc_per_node="$GPUS" -m shoptasks pretrain "${common[@]}" --precision bf16 --fsdp \
    --no-compile --out "$OUT/fsdp-$GPUS-gpus"
"$BIN/shoptasks" finetune review-sentiment --data "$OUT/shop/reviews.csv" --backbone "$OUT/pretrain-bf16--no-compile" \
    --lora --precision bf16 --max-steps "$STEPS" --out "$OUT/lora"
"$BIN/python" benchmarks/gpu_table.py "$OUT"
