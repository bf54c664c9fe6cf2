#!/usr/bin/env bash
# Run HERE (with network) before a device session: downloads the Python 3.12 wheels the GPU
# machine lacks (its image has torch, numpy, scipy, pandas, pyarrow, pytest, rich, typer...)
# into .whl/ (git-ignored via .git/info/exclude), to be carried with `carry: [".whl"]`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 any; do
    platforms+=(--platform "$p")
done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl \
    pymatgen ase mace-torch==0.3.16 chgnet==0.4.2 e3nn==0.4.4 torch-ema matscipy \
    opt-einsum-fx monty ruamel.yaml ruamel.yaml.clib spglib uncertainties palettable \
    pydantic pydantic-core annotated-types typing-inspection threadpoolctl configargparse \
    lmdb python-hostlist || true
# batscreen itself as a wheel, so that its entry points (potentials, generators) exist there
python3 -m pip wheel --no-deps -q -w .whl .
du -sh .whl
