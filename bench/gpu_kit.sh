#!/usr/bin/env bash
# The GPU figures of issue 13 in one prepared call on a lent GPU machine (one H100 or H200, 16
# cores, Python 3.12 whose image holds torch, JAX with CUDA, numba, scipy, pandas, pyarrow and
# matplotlib, and no network): the torch backend of the DP engine against the compiled engine as
# runs grow (goal >= 1e9 decisions/s), the device time of one batched SAC update of 3 and of 27
# members (bench/bench_ads_updates.py: do 9 drivers x 300k updates fit?), then the Meta-World
# comparison (ADS against fixed gamma 0.99 and 0.9, basketball-v3, hammer-v3 and assembly-v3, 3
# seeds each, SAC-batched 256 x 256) at BUDGET steps per run.
#
#   here:   bash bench/gpu_kit.sh download        # wheels the image lacks, and seqrl's, into .whl/
#   there:  bash bench/gpu_kit.sh run [BUDGET]    # device `run`, carry [".whl"], timeout_s 600
#
# Rehearsal here, without a GPU, in a venv holding only what the image holds (the wheel set is
# then checked complete):
#   KIT_PYTHON_VERSION=3.11 KIT_WHEELS=/tmp/kit bash bench/gpu_kit.sh download
#   PATH=<venv>/bin:$PATH KIT_WHEELS=/tmp/kit KIT_NO_GPU=1 bash bench/gpu_kit.sh run 2000
#
# `run` installs the wheels into /tmp/site, checks the imports and the devices, writes every
# output under $OUT (dp_torch_growth.txt/.json, ads_updates.txt, metaworld.txt and
# metaworld.tar.gz: the whole run directory, learning curves and summary.md included) and stops
# the comparison at DEADLINE seconds after its own start (default 560), so that a 600 s call still
# brings back the curves of every evaluation made so far.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned to the versions the test suite runs here (Python 3.12 builds where a wheel is compiled).
WHEELS=(
    gymnasium==1.4.0 farama-notifications==0.0.6 mesa==3.3.1 stable-baselines3==2.9.2
    metaworld==3.1.1 mujoco==3.3.0 glfw==2.11.0 pyopengl==3.1.10
)

WHEEL_DIR=${KIT_WHEELS:-.whl}

download() {
    local python=${PYTHON:-.venv/bin/python}
    rm -rf "$WHEEL_DIR" && mkdir -p "$WHEEL_DIR"
    "$python" -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version "${KIT_PYTHON_VERSION:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEEL_DIR" "${WHEELS[@]}"
    "$python" -m pip wheel --quiet --no-deps -w "$WHEEL_DIR" .
    rm -rf build  # setuptools' in-tree staging copy of the package, stale once the code moves on
    du -sh "$WHEEL_DIR"
    ls "$WHEEL_DIR"
}

run() {
    local budget=${1:-300000} out=${OUT:-/tmp/gpu-kit} deadline=${DEADLINE:-560}
    local started=$SECONDS evaluate_every=$((budget < 20000 ? budget / 2 : 10000))
    local gpu=--gpu sizes="" members="3 27" width=256
    [[ -n ${KIT_NO_GPU:-} ]] && gpu="" sizes=--quick members=3 width=64
    mkdir -p "$out"
    rm -rf /tmp/site /tmp/mw
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$WHEEL_DIR"/*.whl
    export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
    export KIT_NO_GPU=${KIT_NO_GPU:-}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    # Out of the repo, so that `import seqrl` is the installed wheel.
    (cd /tmp && python3 -c '
import jax, torch, numba, numpy, metaworld, stable_baselines3, seqrl
print("python", __import__("platform").python_version(), "numpy", numpy.__version__, "numba",
      numba.__version__, "torch", torch.__version__, "jax", jax.__version__, "seqrl",
      seqrl.__version__)
print("torch cuda:", torch.cuda.is_available(), "jax devices:", jax.devices())
import os
on_gpu = torch.cuda.is_available() and jax.default_backend() == "gpu"
assert on_gpu or os.environ["KIT_NO_GPU"], "torch or JAX sees no GPU"
')
    python3 bench/bench_dp.py --torch-growth $sizes --json "$out/dp_torch_growth.json" \
        | tee "$out/dp_torch_growth.txt" || echo "DP check failed (exit ${PIPESTATUS[0]})"
    # shellcheck disable=SC2086  # $members: several words
    python3 bench/bench_ads_updates.py --members $members --widths $width \
        | tee "$out/ads_updates.txt" || echo "update timing failed (exit ${PIPESTATUS[0]})"
    local left=$((deadline - (SECONDS - started)))
    echo "Meta-World comparison: $budget steps per run, stopped after $left s at the latest"
    timeout --signal=INT --kill-after=20 "$left" python3 bench/ads_metaworld_comparison.py \
        --budget "$budget" --workers 9 $gpu --async-envs --eval-freq "$evaluate_every" \
        --out /tmp/mw \
        2>&1 | grep -v "UserWarning: Constant(s) may be too high\|warnings.warn" \
        | tee "$out/metaworld.txt" || echo "comparison stopped (exit ${PIPESTATUS[0]})"
    tar czf "$out/metaworld.tar.gz" -C /tmp mw
    ls -la "$out"
}

case "${1:-}" in
    download) download ;;
    run) shift; run "$@" ;;
    *) echo "usage: bash bench/gpu_kit.sh download | run [BUDGET]" >&2; exit 2 ;;
esac
