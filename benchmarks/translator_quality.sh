#!/usr/bin/env bash
# Translator quality and cost in one script (repository root; made for one GPU session, runs on
# CPU too):
#  1. the training benchmark on CUDA (128², 256², 512², both heads, inference fps);
#  2. a simulated 256² target, and five translator runs trained at once for MINUTES each:
#     the 96-image head, the low-rank head (K = 16), and three ablations (no multi-frame input,
#     no context loss, and with the paper's adversarial loss (λ1 = 0.1; off in `default`);
#  3. every run scored on its held-out frames at the step all runs reached (same training
#     length), one after another, and the 96-image head again at its last step; summary.json
#     and results.tar.gz in $OUT are rewritten after each, so a call cut short keeps what is done.
# Results: $OUT/train_<device>.json, $OUT/summary.json, $OUT/results.tar.gz (eval JSON + strips +
# training logs), $OUT/session.log. On CPU (2 cores), e.g.
#   SIZE=64 FRAMES=60 MINUTES=12 DEVICE=cpu BENCH=0 PRESET=tiny THREADS=1 CKPT=100 \
#     RUNS="olat lowrank no_multi_frame no_context" OUT=out/quality bash benchmarks/translator_quality.sh
set -uo pipefail
SIZE=${SIZE:-256}; FRAMES=${FRAMES:-120}; MINUTES=${MINUTES:-4}; DEVICE=${DEVICE:-cuda}
BENCH=${BENCH:-1}; PRESET=${PRESET:-default}; CKPT=${CKPT:-500}; THREADS=${THREADS:-3}
RUNS=${RUNS:-olat lowrank no_multi_frame no_context gan}
STEPS=${STEPS:-1000000}  # set it to what MINUTES allows: the learning rate decays over the second half of STEPS
SIM_THREADS=${SIM_THREADS:-$(nproc)}
OUT=${OUT:-/tmp/nervp_gpu}; W=${WORK:-/tmp/nervp_gpu_work}
mkdir -p "$OUT" "$W"
export PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/session.log") 2>&1
py="python3 -m nervp.cli"
log() { echo "[$(date +%T)] $*"; }
log "start: size $SIZE, $FRAMES frames, $MINUTES min per run on $DEVICE"
python3 -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"

OMP_NUM_THREADS=$SIM_THREADS $py simulate "$W/target.olat" --frames "$FRAMES" --size "$SIZE" --seed 0 --overwrite \
  > "$W/simulate.log" 2>&1 &
sim=$!
if [ "$BENCH" = 1 ]; then
  log "training benchmark"
  OMP_NUM_THREADS=4 python3 benchmarks/bench_train.py --device "$DEVICE" ${BENCH_ARGS:---large --repeats 5} --name "train_$DEVICE"
  cp "benchmarks/results/train_$DEVICE.json" "$OUT/"
fi
wait $sim || { log "simulation failed"; tail -5 "$W/simulate.log"; exit 1; }
log "dataset ready: $(tail -1 "$W/simulate.log")"

declare -A extra=([olat]="" [lowrank]="--head lowrank --rank 16" [no_multi_frame]="--no-multi-frame" [no_context]="--no-context" [no_gan]="--no-gan"
                 [gan]="--gan-weight 0.1")
pids=()
for v in $RUNS; do
  OMP_NUM_THREADS=$THREADS $py train "$W/target.olat" "$W/$v" --preset "$PRESET" --params truth --steps "$STEPS" \
    --ckpt-every "$CKPT" --minutes "$MINUTES" --device "$DEVICE" ${extra[$v]} > "$W/$v.train.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"  # (a bare `wait` would also wait for the tee above)
for v in $RUNS; do log "$v: $(tail -1 "$W/$v.train.log")"; done

common=$(python3 - "$W" "$CKPT" "$RUNS" <<'PY'
import sys, pathlib
w, every = pathlib.Path(sys.argv[1]), int(sys.argv[2])
steps = []
for v in sys.argv[3].split():
    s = [int(p.stem[5:]) for p in (w / v / "checkpoints").glob("step_*.json") if int(p.stem[5:]) % every == 0]
    steps.append(max(s) if s else 0)
print(min(steps))
PY
)
log "common checkpoint step: $common"
summarize() {  # summary.json + results.tar.gz in $OUT from whatever has been scored so far
python3 - "$W" "$OUT" <<'PY'
import json, sys, pathlib
w, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
summary = {}
for p in sorted(w.glob("*/eval_*.json")):
    m = json.loads(p.read_text())
    summary[f"{p.parent.name}/{p.stem}"] = {k: m[k] for k in ("step", "head", "overall", "ring_8_lights", "environments",
                                            "per_olat_psnr_db", "normal_angular_error_deg", "temporal_change_ratio")}
tmp = out / ".summary.json.tmp"
tmp.write_text(json.dumps(summary, indent=1))
tmp.replace(out / "summary.json")
print(json.dumps({k: (v["step"], round(v["overall"]["psnr_db"], 2), round(v["overall"]["ssim"], 4),
                      round(v["overall"]["mae"], 4), v["temporal_change_ratio"]) for k, v in summary.items()}))
PY
tar czf "$OUT/.results.tar.gz" -C "$W" $(cd "$W" && ls -d */eval_*.json */eval_*.png */log.jsonl */config.json *.log 2>/dev/null) \
  && mv "$OUT/.results.tar.gz" "$OUT/results.tar.gz"
}
summarize  # the training logs come back even if scoring runs out of time
# one run at a time (each uses the whole machine), results copied out after each
for v in $RUNS; do
  OMP_NUM_THREADS=$SIM_THREADS $py evaluate "$W/$v" "$W/target.olat" --device "$DEVICE" --step "$common" \
    --out "$W/$v/eval_common.json" > "$W/$v.eval.log" 2>&1
  log "$v scored: $(tail -3 "$W/$v.eval.log" | tr '\n' ' ')"
  summarize
done
OMP_NUM_THREADS=$SIM_THREADS $py evaluate "$W/olat" "$W/target.olat" --device "$DEVICE" \
  --out "$W/olat/eval_last.json" > "$W/olat.eval_last.log" 2>&1
summarize
log "done"
