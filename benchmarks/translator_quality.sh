#!/usr/bin/env bash
# Translator quality and cost in one script (repository root; made for one GPU session, runs on
# CPU too):
#  1. optionally (BENCH=1) the training benchmark (128², 256², 512², both heads, inference fps);
#  2. a simulated target (SIZE², FRAMES frames, rendered by SIM_WORKERS processes), and every run
#     in RUNS trained at once, each for at most MINUTES: an entry is VARIANT[:STEPS], VARIANT one
#     of olat (the 96-image head), long (the same, meant for a longer STEPS), lowrank (K = 16),
#     lowrank_nmf, no_multi_frame, no_context, no_gan, gan (the paper's λ1 = 0.1; off in `default`);
#  3. every run scored on its held-out frames at its last weights under the ring of 8 lights and
#     LIGHTS (procedural names or .hdr files); summary.json and results.tar.gz in $OUT are
#     rewritten after each score, so a call cut short keeps what is done.
# Results: $OUT/train_<device>.json, $OUT/summary.json, $OUT/results.tar.gz (eval JSON + strips +
# training logs), $OUT/session.log. On CPU (2 cores), e.g.
#   SIZE=64 FRAMES=60 MINUTES=12 DEVICE=cpu BENCH=0 PRESET=tiny THREADS=1 CKPT=100 STEPS=900 \
#     RUNS="olat lowrank no_multi_frame no_context" OUT=out/quality bash benchmarks/translator_quality.sh
set -uo pipefail
SIZE=${SIZE:-256}; FRAMES=${FRAMES:-160}; MINUTES=${MINUTES:-4}; DEVICE=${DEVICE:-cuda}
BENCH=${BENCH:-0}; PRESET=${PRESET:-default}; CKPT=${CKPT:-200}; THREADS=${THREADS:-3}
RUNS=${RUNS:-olat:1400 lowrank:1400 long:2400}; STEPS=${STEPS:-1400}
LIGHTS=${LIGHTS:-sky sunset studio}
SIM_WORKERS=${SIM_WORKERS:-$(nproc)}; EVAL_THREADS=${EVAL_THREADS:-$(nproc)}
OUT=${OUT:-/tmp/nervp_gpu}; W=${WORK:-/tmp/nervp_gpu_work}
mkdir -p "$OUT" "$W"
export PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/session.log") 2>&1
py="python3 -m nervp.cli"
log() { echo "[$(date +%T)] $*"; }
log "start: size $SIZE, $FRAMES frames, runs [$RUNS], at most $MINUTES min each on $DEVICE"
python3 -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"

OMP_NUM_THREADS=1 $py simulate "$W/target.olat" --frames "$FRAMES" --size "$SIZE" --performer.seed 0 --overwrite \
  --workers "$SIM_WORKERS" > "$W/simulate.log" 2>&1 &
sim=$!
if [ "$BENCH" = 1 ]; then
  log "training benchmark"
  OMP_NUM_THREADS=4 python3 benchmarks/bench_train.py --device "$DEVICE" ${BENCH_ARGS:---large --repeats 5} --name "train_$DEVICE"
  cp "benchmarks/results/train_$DEVICE.json" "$OUT/"
fi
wait $sim || { log "simulation failed"; tail -5 "$W/simulate.log"; exit 1; }
log "dataset ready: $(tail -1 "$W/simulate.log")"

declare -A extra=([olat]="" [long]="" [lowrank]="--model.head lowrank --model.rank 16" [lowrank_nmf]="--model.head lowrank --model.rank 16 --model.basis nmf"
                 [no_multi_frame]="--no-multi-frame" [no_context]="--loss.context 0" [no_gan]="--loss.gan 0" [gan]="--loss.gan 0.1")
names=(); pids=()
for entry in $RUNS; do
  v=${entry%%:*}; n=$STEPS; [ "$entry" != "$v" ] && n=${entry#*:}
  [ -n "${extra[$v]+set}" ] || { log "unknown run variant $v"; exit 2; }
  name="${v}_$n"; names+=("$name")
  OMP_NUM_THREADS=$THREADS $py train "$W/target.olat" "$W/$name" --preset "$PRESET" --params truth --steps "$n" \
    --ckpt-every "$CKPT" --minutes "$MINUTES" --device "$DEVICE" ${extra[$v]} > "$W/$name.train.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"  # (a bare `wait` would also wait for the tee above)
for name in "${names[@]}"; do log "$name: $(tail -c 400 "$W/$name.train.log" | tr '\r\n' '  ')"; done

summarize() {  # summary.json + results.tar.gz in $OUT from whatever has been scored so far
python3 - "$W" "$OUT" "size $SIZE, $FRAMES frames, preset $PRESET, runs [$RUNS], at most $MINUTES min each on $DEVICE" <<'PY'
import json, sys, pathlib
sys.path.insert(0, "benchmarks")
from common import write_results
w, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
summary = {}
for p in sorted(w.glob("*/eval_*.json")):
    m = json.loads(p.read_text())
    summary[f"{p.parent.name}/{p.stem}"] = {k: m[k] for k in ("step", "head", "overall", "ring_8_lights", "environments",
                                            "per_olat_psnr_db", "normal_angular_error_deg", "temporal_change_ratio")}
base = next((k for k in summary if k.startswith("olat_")), None)  # the 96-image head: the ablations' baseline
ratios = {} if base is None else {"overall_psnr_db_minus_" + base.split("/")[0]: {
    k: v["overall"]["psnr_db"] - summary[base]["overall"]["psnr_db"] for k, v in summary.items() if k != base}}
method = (f"benchmarks/translator_quality.sh: {sys.argv[3]}; every run scored by `nervp evaluate` on its held-out "
          "frames at its last weights (ring of 8 lights + environments); ratios: PSNR difference (dB) against the "
          "olat run of the same session" + ("" if ratios else " (no olat run scored here: ratios is empty)"))
if summary:  # scores may finish at once: write_results replaces the file atomically
    write_results(out / "summary.json", method=method, results={"runs": summary}, ratios=ratios)
print(json.dumps({k: (v["step"], round(v["overall"]["psnr_db"], 2), round(v["overall"]["ssim"], 4),
                      round(v["overall"]["mae"], 4), v["temporal_change_ratio"]) for k, v in summary.items()}))
PY
tar czf "$OUT/.results.$BASHPID.tar.gz" -C "$W" $(cd "$W" && ls -d */eval_*.json */eval_*.png */log.jsonl */config.json *.log 2>/dev/null) \
  && mv "$OUT/.results.$BASHPID.tar.gz" "$OUT/results.tar.gz"
}
summarize  # the training logs come back even if scoring runs out of time
score() {
  OMP_NUM_THREADS=$1 $py evaluate "$W/$2" "$W/target.olat" --device "$DEVICE" --light $LIGHTS \
    --out "$W/$2/eval_last.json" > "$W/$2.eval.log" 2>&1
  log "$2 scored: $(tail -3 "$W/$2.eval.log" | tr '\n' ' ')"
  summarize
}
if [ "${EVAL_PARALLEL:-$([ "$DEVICE" = cuda ] && echo 1 || echo 0)}" = 1 ]; then  # all at once: each is small next to a GPU
  per=$(( EVAL_THREADS / ${#names[@]} )); [ "$per" -ge 1 ] || per=1
  spids=()
  for name in "${names[@]}"; do score "$per" "$name" & spids+=($!); done
  wait "${spids[@]}"
else  # one after another, each with the whole machine
  for name in "${names[@]}"; do score "$EVAL_THREADS" "$name"; done
fi
summarize
log "done"
