#!/usr/bin/env bash
# The GPU check: the tests marked `cuda`, then the GPU benchmarks against their targets, in under 8 minutes
# on one GPU.
#
# Needs a checkout where `bash scripts/install.sh test` was run, and one CUDA GPU. Nothing is downloaded
# (HF_HUB_OFFLINE=1): the tests use tiny random models, the benchmarks random weights of the real ones.
#
#   bash benchmarks/gpu_check.sh
#
# Writes benchmarks/results/gpu-vit-b16.{txt,json} (SAM2 stage incl. the segment pipeline per image, SD2
# inpainting), gpu-sam2-points.{txt,json} (SAM2 on a 1024 px photo: full 32x32 grid, guided prompts, sparse
# 8x8 grid), gpu-sam2-compile.{txt,json} (the same compiled; informational: a failure there only prints),
# gpu-vit-l14.{txt,json} (SAM2 stage) and gpu-editing.{txt,json} (LaMa at 512x512 and on a 12-MP photo with a
# 10 % region; one denoiser step per diffusion family; informational: the LaMa network is the tests' tiny
# stand-in unless big-lama's weights are on disk), then prints pass/fail per target.
# Exit status: 0 all passed; 1 a cuda test failed; 2 a benchmark failed or ran out of time; 3 a target was
# missed; 4 no CUDA device (the tests skip, nothing is measured).
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PYTHON=${PYTHON:-python}
RESULTS=benchmarks/results
# Together under 8 minutes even if every step runs into its limit; the whole check took 102 s on an H200
# before the sam2_points and sam2_compile steps were added.
TEST_TIMEOUT_S=120
# Worst case 120 (tests) + 120 + 60 + 60 + 60 + 60 s = 8 minutes; on an H200 each benchmark took well under a minute.
BENCH_B16_TIMEOUT_S=120
BENCH_POINTS_TIMEOUT_S=60
BENCH_COMPILE_TIMEOUT_S=60
BENCH_L14_TIMEOUT_S=60
BENCH_EDITING_TIMEOUT_S=60
status=0

echo "== cuda tests (timeout ${TEST_TIMEOUT_S} s)"
timeout --kill-after=10 "$TEST_TIMEOUT_S" "$PYTHON" -m pytest tests/test_cuda.py -m cuda -q -rs -p no:cacheprovider
tests=$?
if [ "$tests" -ne 0 ]; then
  echo "FAIL: cuda tests (exit $tests$([ "$tests" -eq 124 ] && echo ', timed out'))"
  status=1
fi

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA device: the cuda tests skipped and no benchmark ran"
  [ "$status" -ne 0 ] && exit "$status"
  exit 4
fi

# bench MODEL STAGES TIMEOUT NAME [informational]: one benchmark run, its report in $RESULTS/NAME.txt and
# .json; an informational run that fails is reported without failing the check.
bench() {
  local model=$1 stages=$2 limit=$3 name=$4 informational=${5:-}
  echo "== benchmark $model: $stages (timeout $limit s) -> $RESULTS/$name.txt"
  rm -f "$RESULTS/$name.json"
  timeout --kill-after=10 "$limit" "$PYTHON" -m benchmarks.bench --device cuda --model "$model" \
    --stages "$stages" --json "$RESULTS/$name.json" > "$RESULTS/$name.txt"
  local code=$?
  if [ "$code" -ne 0 ] && [ -n "$informational" ]; then
    echo "miss: benchmark $name (exit $code$([ "$code" -eq 124 ] && echo ', timed out'), informational)"
  elif [ "$code" -ne 0 ]; then
    echo "FAIL: benchmark $model (exit $code$([ "$code" -eq 124 ] && echo ', timed out'))"
    status=2
  fi
}
bench ViT-B-16 sam2,inpaint "$BENCH_B16_TIMEOUT_S" gpu-vit-b16
# SAM2 alone (the CLIP model only names the run): full grid, guided and sparse; then compiled, informational.
bench ViT-B-16 sam2_points "$BENCH_POINTS_TIMEOUT_S" gpu-sam2-points
bench ViT-B-16 sam2_compile "$BENCH_COMPILE_TIMEOUT_S" gpu-sam2-compile informational
bench ViT-L-14 sam2 "$BENCH_L14_TIMEOUT_S" gpu-vit-l14
bench ViT-B-16 lama,families "$BENCH_EDITING_TIMEOUT_S" gpu-editing informational
bench ViT-B-16 lama,families "$BENCH_EDITING_TIMEOUT_S" gpu-editing

echo "== targets"
"$PYTHON" - "$RESULTS/gpu-vit-b16.json" "$RESULTS/gpu-sam2-points.json" "$RESULTS/gpu-vit-l14.json" \
  "$RESULTS/gpu-sam2-compile.json" "$RESULTS/gpu-editing.json" <<'PY'
import json, sys
from pathlib import Path

# (report, target key): the GPU targets this check stands for; the others are printed for information.
required = {
    ("gpu-vit-b16", "segment_pipeline_seconds"), ("gpu-vit-l14", "segment_pipeline_seconds"),
    ("gpu-vit-b16", "inpaint_50_steps_seconds"),
    ("gpu-sam2-points", "sam2_grid_seconds"), ("gpu-sam2-points", "sam2_guided_seconds"),
}
informational = {"gpu-sam2-compile", "gpu-editing"}  # reports with no required target: their timings are printed
missed = False
for path in map(Path, sys.argv[1:]):
    if not path.is_file():
        print(f"{'miss' if path.stem in informational else 'FAIL'} {path.stem}: no report")
        missed |= path.stem not in informational
        continue
    report = json.loads(path.read_text())
    for stage in report["stages"].values() if path.stem in informational else ():
        for key, value in stage["metrics"].items():
            if key.endswith("_seconds"):
                print(f"info  {path.stem} {key} = {value:.4g} s")
    for key, target in report["targets"].items():
        needed = (path.stem, key) in required
        verdict = "PASS" if target["met"] else ("FAIL" if needed else "miss")
        note = "" if needed else ", informational"
        print(f"{verdict:<5} {path.stem} {key} = {target['value']:.4g} (target {target['rule']}{note})")
        missed |= needed and not target["met"]
    for name in {key for stem, key in required if stem == path.stem} - set(report["targets"]):
        print(f"FAIL {path.stem} {name}: not measured")
        missed = True
    # Figures without a target (LaMa, per-family step times) and failures noted by a stage, for the record.
    for note in report.get("notes", []):
        if path.stem == "gpu-editing":
            print(f"info  {note}")
sys.exit(3 if missed else 0)
PY
targets=$?
if [ "$targets" -ne 0 ] && [ "$status" -eq 0 ]; then
  status=3
fi
echo "gpu check: $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)")"
exit "$status"
