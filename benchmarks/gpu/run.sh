#!/usr/bin/env bash
# One short, prepared run on a lent GPU (see the device tool's README): install the carried
# wheels, run the GPU tests, then the relaxation benchmark with random MACE-MP-0-medium
# weights and with CHGNet, and the batched MD benchmark. Everything it prints also lands in $OUT.
#   device.run(command="bash benchmarks/gpu/run.sh", carry=[".whl"], timeout_s=540)
set -uo pipefail
OUT=${OUT:-/tmp/gpu-run}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, mace, chgnet, pymatgen; print('torch', torch.__version__)" | tee -a "$OUT/gpu.txt"
timeout 150 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tee "$OUT/gpu-tests.txt"
timeout 200 python3 benchmarks/relax.py --device cuda --potential random-mace-medium \
    --dtype float32 --repeat 16 --batch-atoms 8000 --skip-ase-bfgs 2>&1 | tee "$OUT/bench-mace.txt"
timeout 150 python3 benchmarks/relax.py --device cuda --potential chgnet-0.3.0 \
    --repeat 8 --batch-atoms 4000 --skip-ase-bfgs 2>&1 | tee "$OUT/bench-chgnet.txt"
timeout 120 python3 benchmarks/md.py --device cuda --copies 16 --steps 100 2>&1 \
    | tee "$OUT/bench-md.txt"
