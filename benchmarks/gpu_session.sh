#!/usr/bin/env bash
# A prepared GPU session under one deadline per call. Everything worth keeping lands in $OUT (default
# ./gpu_out): gpu.txt tests.log bench_awac.txt bench_iql.txt generate.log train.log metrics.tgz ckpt_<exp>.tgz
# (PHASE=plain: tests_plain.log bench_plain_<algo>[_cs224r].txt starter_speed.txt train_plain.log ckpt_<exp>.tgz)
#
#   PHASE=check bash benchmarks/gpu_session.sh [SECONDS]  # CUDA tests + benchmarks, dataset generated alongside
#   PHASE=train bash benchmarks/gpu_session.sh [SECONDS]  # the 3-seed AWAC sweep (generates the dataset if missing)
#   bash benchmarks/gpu_session.sh [SECONDS]              # both, one after the other (PHASE=all; default 540 s)
#   PHASE=sweep bash benchmarks/gpu_session.sh [SECONDS]  # issue 27: a sweep as one stacked model (see sweep_phase)
#   PHASE=plain bash benchmarks/gpu_session.sh [SECONDS]  # #25: RL_Trainer's graphed step (--cuda-graph), see below
#   PHASE=rows ROWS="..." bash benchmarks/gpu_session.sh [SECONDS]  # #31: several table rows side by side (below)
#
# Issue 31's table rows, one per call (the train phase resumes a row whose checkpoint is in $RUNS, or else in
# results/inflight/<exp>.tar.xz; on a fresh machine unpack the ckpt_<exp>.tgz of the earlier call into runs/gpu_runs first):
#   PHASE=train ALGO=awac ENV=antmaze-umaze-v0 EXP=awac_umaze_d4rl_cs224r TOTAL_STEPS=300000 TRAIN_ARGS="--preset
#     cs224r --eval-interval 50000 --checkpoint-interval 25000 --fast-compile" bash benchmarks/gpu_session.sh 560
#   (defaults rows: EXP=<algo>_<maze>_d4rl_1m, no TOTAL_STEPS, TRAIN_ARGS without --preset)
# or several rows in one call, side by side on the GPU, each coming back as $OUT/row_<exp>.tar.xz (the form of
# results/inflight/<exp>.tar.xz, so a row the deadline cut continues from there in the next session):
#   PHASE=rows ROWS="awac_umaze_d4rl_1m awac_medium_diverse_d4rl_1m" bash benchmarks/gpu_session.sh 570
#
# The dataset goes to $CS224R_DATA (default runs/gpu_data in the checkout, which a warm device machine keeps
# between calls), so a train call right after a check call starts training at once. The sweep stops
# cleanly (SIGINT) before the deadline and its CSVs and checkpoints still come back.
# Knobs (environment): DEVICE (cuda), TOTAL_STEPS (1000000), TRAIN_ARGS (extra run_<algo>.py flags),
# ALGO (awac | iql), EXP (the run's name), MARGIN (20: seconds left after the sweep), RETRY_ARGS (--no-fast-cuda-graph: flags of the
# retry after a failed graph run), ENV (antmaze-umaze-v0; any generated AntMaze name), BENCH_STEPS (200; 0 skips the benchmarks), TESTS (pytest targets,
# default tests/fast), TESTS_K (a pytest -k expression), BENCH_ALGOS (awac iql), BENCH_ARGS (extra bench_train.py flags, e.g. --no-single), BENCH_COMPILE (non-empty: also test and time torch.compile, with and without the graphs), GEN_TRANSITIONS (a smaller generated dataset, passed with --dataset, for timing runs; a file
# $CS224R_DATA/$ENV-$GEN_TRANSITIONS.hdf5 already there, e.g. generated locally and carried with the checkout, is used as is).
# A .whl/ folder of wheels (mujoco, ...) is installed to /tmp/site first when present.
set -u
T0=$(date +%s)
BUDGET=${1:-540}
PHASE=${PHASE:-all}
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
left() { echo $((BUDGET - ($(date +%s) - T0))); }
resume_flag() { [ -f "$RUNS/$1/seed1/checkpoint.pt" ] && echo --resume; }  # a run with a checkpoint continues
# a row carried in the repository between CPU sessions (results/inflight/) continues here: the generated file is the same
INFLIGHT=${INFLIGHT:-results/inflight}  # the tests point it elsewhere
carried() { [ -f "$INFLIGHT/$1.tar.xz" ]; }  # the row has a carried checkpoint archive
unpack_inflight() {
    if [ -z "$(resume_flag "$1")" ] && carried "$1"; then
        mkdir -p "$RUNS" && tar -xJf "$INFLIGHT/$1.tar.xz" -C "$RUNS" && echo "$1: unpacked $INFLIGHT/$1.tar.xz"
    fi
}
# a rows-phase name's task: awac_medium_diverse_d4rl_1m -> antmaze-medium-diverse-v0
row_env() { local rest=${1#*_}; rest=${rest%_d4rl_*}; echo "antmaze-${rest//_/-}-v0"; }
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=${TQDM_MININTERVAL:-15}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
DEVICE=${DEVICE:-cuda}
ALGO=${ALGO:-awac}
ENV=${ENV:-antmaze-umaze-v0}
# the run's name: awac_umaze_gpu, iql_medium_diverse_gpu, or EXP (e.g. issue 31's rows, awac_umaze_d4rl_cs224r)
EXP=${EXP:-${ALGO}_$(echo "${ENV#antmaze-}" | sed 's/-v[0-9]*$//; s/-/_/g')_gpu}
export CS224R_DATA=${CS224R_DATA:-$PWD/runs/gpu_data} CS224R_SIM_THREADS=${SIM_THREADS:-12}
RUNS=${RUNS:-$PWD/runs/gpu_runs}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; nproc
  python3 -c "import torch, mujoco; print('torch', torch.__version__, 'mujoco', mujoco.__version__,
  torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')"; } 2>&1 | tee -a "$OUT/gpu.txt"

# the generated dataset, in the background (the same bytes on any CPU since the generator became portable)
DATASET_ARGS=()
DATA_FILE=$CS224R_DATA/$ENV.d4rl.hdf5  # the default recipe's cache file (scripts/generate_dataset.py)
if [ -n "${GEN_TRANSITIONS:-}" ] && [ "$PHASE" != rows ]; then
    DATA_FILE=$CS224R_DATA/$ENV-$GEN_TRANSITIONS.hdf5
    DATASET_ARGS=(--num-transitions "$GEN_TRANSITIONS" --out "$DATA_FILE")
    TRAIN_ARGS="${TRAIN_ARGS:-} --dataset $DATA_FILE"
fi
GEN=
if [ "$PHASE" != rows ] && [ ! -f "$DATA_FILE" ]; then  # PHASE=rows makes its rows' datasets itself
    ( CS224R_SIM_THREADS=${GEN_THREADS:-12} python3 scripts/generate_dataset.py --env-name "$ENV" \
          "${DATASET_ARGS[@]}" >>"$OUT/generate.log" 2>&1
      echo "generate rc=$? at $(($(date +%s) - T0)) s" >>"$OUT/generate.log" ) &
    GEN=$!
fi

# ---------------------------------------------------------------- PHASE=rows (issue 31) begins
# Several of issue 31's table rows at once on the one GPU (a row's step is a few small kernels, so rows side by
# side may share the device at little cost to each: rows.txt gives each row's steps/s to check). ROWS names
# them <algo>_<maze>_d4rl_<1m|cs224r>, which says everything: awac|iql, the dataset (umaze -> antmaze-umaze-v0,
# medium_diverse -> antmaze-medium-diverse-v0) and the settings (1m: the defaults, 1M steps; cs224r: --preset
# cs224r, 300k); without ROWS, the rows carried in $INFLIGHT (none there is an error). Each row resumes from
# $RUNS or $INFLIGHT/<exp>.tar.xz (default results/inflight/; a row begun on a CPU continues with
# --allow-device-change: fresh random streams from there on), trains 3 seeds (--fast --fast-compile, CUDA
# graphs) until the call's deadline, stops with SIGINT (its checkpoint written) and comes back as
# $OUT/row_<exp>.tar.xz (seed*/ checkpoint.pt, config.json, metrics.csv: unpack into runs/gpu_runs, or into
# results/inflight/ form, to continue it) with its log train_<exp>.log; rows.txt has each row's last metrics and
# steps/s. Knobs: ROWS, ROW_STEPS, ROW_EVAL (50000), ROW_CKPT (25000) (the steps the name implies, the evaluation
# and checkpoint intervals: smaller for a smoke test), SIM_THREADS (default: the cores shared out over the rows),
# TRAIN_ARGS, GEN_TRANSITIONS (smaller datasets, for a smoke test), ROWS_DRY (non-empty: print each row's command,
# with --resume where the real call would resume, and run nothing).
rows_phase() {
    local exp algo env steps extra pids=() envs=() gen_pids=() resume data n threads cmd
    for exp in $ROWS; do
        [[ $exp =~ ^(awac|iql)_[a-z_]+_d4rl_(1m|cs224r)$ ]] || { echo "ROWS: '$exp' is not <awac|iql>_<maze>_d4rl_<1m|cs224r>"; return 2; }
        env=$(row_env "$exp")
        [[ " ${envs[*]} " == *" $env "* ]] || envs+=("$env")
    done
    [ -n "${ROWS_DRY:-}" ] && envs=()  # ROWS_DRY=1: print each row's command, run nothing
    for env in "${envs[@]}"; do  # each dataset once, in parallel (about 1-2 minutes on the device machine)
        data=$CS224R_DATA/$env.d4rl.hdf5; extra=()
        [ -n "${GEN_TRANSITIONS:-}" ] && { data=$CS224R_DATA/$env-$GEN_TRANSITIONS.hdf5; extra=(--num-transitions "$GEN_TRANSITIONS" --out "$data"); }
        [ -f "$data" ] && continue
        ( CS224R_SIM_THREADS=$(( $(nproc) / ${#envs[@]} > 0 ? $(nproc) / ${#envs[@]} : 1 )) python3 scripts/generate_dataset.py \
              --env-name "$env" "${extra[@]}" --no-progress >>"$OUT/generate_$env.log" 2>&1
          echo "generate $env rc=$? at $(($(date +%s) - T0)) s" | tee -a "$OUT/rows.txt" ) &
        gen_pids+=($!)
    done
    [ ${#gen_pids[@]} -eq 0 ] || wait "${gen_pids[@]}"
    n=$(echo $ROWS | wc -w)
    threads=${SIM_THREADS:-$(( $(nproc) / n > 0 ? $(nproc) / n : 1 ))}
    echo "rows from $(($(date +%s) - T0)) s, $(($(left) - MARGIN)) s left, $n rows, $threads simulation threads each" | tee -a "$OUT/rows.txt"
    for exp in $ROWS; do
        algo=${exp%%_*}; env=$(row_env "$exp")
        if [ "${exp##*_}" = cs224r ]; then steps=300000; extra="--preset cs224r"; else steps=1000000; extra=; fi
        steps=${ROW_STEPS:-$steps}
        [ -n "${GEN_TRANSITIONS:-}" ] && extra="$extra --dataset $CS224R_DATA/$env-$GEN_TRANSITIONS.hdf5"
        [ -n "${ROWS_DRY:-}" ] || unpack_inflight "$exp" | tee -a "$OUT/rows.txt"
        resume=$(resume_flag "$exp")
        [ -n "${ROWS_DRY:-}" ] && carried "$exp" && resume=--resume  # what a real call would unpack
        cmd=(python3 "scripts/run_$algo.py" --env-name "$env" --seeds 1 2 3 --fast --fast-compile --device "$DEVICE"
             --allow-device-change
             --log-dir "$RUNS" --exp-name "$exp" --total-steps "$steps" --eval-interval "${ROW_EVAL:-50000}"
             --checkpoint-interval "${ROW_CKPT:-25000}" --no-progress $extra $resume ${TRAIN_ARGS:-})
        if [ -n "${ROWS_DRY:-}" ]; then echo "${cmd[*]}"; continue; fi
        echo "$exp: $algo on $env, $steps steps $extra ${resume:+(resumed)}" | tee -a "$OUT/rows.txt"
        CS224R_SIM_THREADS=$threads timeout -s INT $(($(left) - MARGIN)) "${cmd[@]}" >>"$OUT/train_$exp.log" 2>&1 &
        pids+=($!)
    done
    set -- $ROWS
    for pid in "${pids[@]}"; do
        wait "$pid"; echo "$1 rc=$? at $(($(date +%s) - T0)) s" | tee -a "$OUT/rows.txt"
        tail -2 "$OUT/train_$1.log" | tee -a "$OUT/rows.txt"
        [ -f "$RUNS/$1/seed1/metrics.csv" ] && python3 - "$RUNS/$1" <<'PY' | tee -a "$OUT/rows.txt"
import csv, statistics, sys
rows = {s: list(csv.DictReader(open(f"{sys.argv[1]}/seed{s}/metrics.csv"))) for s in (1, 2, 3)}
last = {s: r[-1] for s, r in rows.items() if r}
if last:
    step = min(int(r["step"]) for r in last.values())
    succ = [float(r["Eval_SuccessRate"]) for r in last.values()]
    print(f"  step {step}: success {statistics.mean(succ):.2f} ({' / '.join(f'{x:.2f}' for x in succ)}), "
          f"{float(last[1]['Train_StepsPerSecond']):.0f} steps/s, Time_Elapsed {float(last[1]['Time_Elapsed']):.0f} s")
PY
        tar -cJf "$OUT/row_$1.tar.xz" -C "$RUNS" --exclude tb --exclude run.lock --exclude checkpoint.prev.pt \
            --exclude policy.pt "$1" 2>/dev/null
        shift
    done
    echo "rows done at $(($(date +%s) - T0)) s" | tee -a "$OUT/rows.txt"
}
if [ "$PHASE" = rows ]; then
    MARGIN=${MARGIN:-30}
    # default: the rows carried in $INFLIGHT (each <exp>.tar.xz), so a GPU call continues what CPU sessions left
    if [ -z "${ROWS:-}" ]; then
        shopt -s nullglob; archives=("$INFLIGHT"/*_d4rl_*.tar.xz); shopt -u nullglob
        archives=("${archives[@]##*/}"); ROWS="${archives[*]%.tar.xz}"
    fi
    [ -n "$ROWS" ] || { echo "PHASE=rows: no row is carried in $INFLIGHT; name the rows to run, e.g. ROWS=\"iql_umaze_d4rl_cs224r\""; exit 2; }
    rows_phase
    exit $?
fi
# ---------------------------------------------------------------- PHASE=rows (issue 31) ends
# ---------------------------------------------------------------- PHASE=sweep (issue 27) begins
# A sweep as one stacked model. Writes $OUT/bench_sweep*.txt and $OUT/sweep.txt (+ sweep_metrics.tgz,
# sweep_ckpt.tgz). First bench_sweep.py: 4 expectiles x 3 seeds as one 12-member model against 4 models of 3
# one after another (the target: A / B >= 3), with the default and the cs224r shapes; then the course's
# expectile sweep end to end, one command (target: <= 10 min on one H100), timed until the deadline. It
# resumes, so the same call again continues an unfinished sweep (SWEEP_BENCH=0 skips the benchmarks then;
# copy back ckpt and metrics first if the machine is a fresh one). Knobs: SWEEP_BENCH (1), SWEEP_STEPS (200),
# SWEEP_ARGS (extra sweep_iql.py flags, e.g. --max-members 6), SWEEP_VALUES (0.2 0.5 0.7 0.9).
sweep_phase() {
    local rc t_start t_end
    if [ "${SWEEP_BENCH:-1}" != 0 ]; then
        timeout 150 python3 -m pytest -q -p no:cacheprovider tests/fast/test_fast_members.py tests/fast/test_sweep_grid.py \
            tests/fast/test_cuda_graph.py >"$OUT/tests_sweep.log" 2>&1
        echo "sweep tests rc=$? at $(($(date +%s) - T0)) s"; tail -2 "$OUT/tests_sweep.log"
        for preset in none cs224r; do
            timeout 150 python3 benchmarks/bench_sweep.py --algo iql --values 4 --seeds 3 --device "$DEVICE" \
                --steps "${SWEEP_STEPS:-200}" --rounds 3 $([ $preset = cs224r ] && echo --preset cs224r) \
                2>&1 | tee "$OUT/bench_sweep_$preset.txt"
        done
    fi
    if [ -n "$GEN" ]; then wait $GEN; tail -2 "$OUT/generate.log"; fi
    echo "sweep from $(($(date +%s) - T0)) s, $(($(left) - MARGIN)) s left" | tee -a "$OUT/sweep.txt"
    t_start=$(date +%s)
    timeout -s INT $(($(left) - MARGIN)) python3 scripts/sweep_iql.py --param expectile \
        --values ${SWEEP_VALUES:-0.2 0.5 0.7 0.9} --seeds 1 2 3 --fast --env-name "$ENV" --preset cs224r \
        --device "$DEVICE" --log-dir "$RUNS/sweep" --exp-name iql_umaze_sweep --resume --no-progress \
        ${SWEEP_ARGS:-} ${TRAIN_ARGS:-} >>"$OUT/sweep.txt" 2>&1
    rc=$?
    t_end=$(date +%s)
    echo "sweep rc=$rc, this call's wall time $((t_end - t_start)) s (the sweep's total: add earlier calls')" \
        | tee -a "$OUT/sweep.txt"
    grep -E "^plan:|setup before|^\|" "$OUT/sweep.txt" | tail -12
    tar -czf "$OUT/sweep_metrics.tgz" --exclude=checkpoint.pt -C "$RUNS" sweep 2>/dev/null
    tar -czf "$OUT/sweep_ckpt.tgz" -C "$RUNS" sweep --wildcards '*/checkpoint.pt' 2>/dev/null
    echo "sweep phase done at $(($(date +%s) - T0)) s"
    return $rc
}
if [ "$PHASE" = sweep ]; then
    MARGIN=${MARGIN:-20}
    sweep_phase
    exit $?
fi
# ---------------------------------------------------------------- PHASE=sweep (issue 27) ends
# PHASE=plain (#25): the plain trainer's step replayed as CUDA graphs, for any agent. In order, each under the
# deadline: its GPU tests (tests/infrastructure/test_graph_step.py, test_eval_beside.py + the trainer's tests), bench_train.py for AWAC
# and IQL at the default settings and --preset cs224r (plain eager vs plain cuda-graph x1/x10 vs fast, same run;
# bench_plain_<algo>[_cs224r].txt), the starter tree with the solutions filled in against this tree (the same
# PLAIN_SPEED_STEPS-step run in each; starter_speed.txt), then the measured end-to-end run(s): one seed of
# RL_Trainer (no --fast) with 20 evaluations of 50 episodes: PLAIN_RUNS="default cs224r" (default: 1M AWAC steps,
# target <= 25 min on one H100; cs224r: --preset cs224r, 300k steps, target <= 8 min). A run stopped by the
# deadline writes its checkpoint (ckpt_<exp>.tgz comes back); unpack it into runs/gpu_runs in a later call and
# the same command resumes it (--resume): Time_Elapsed in its metrics.csv adds up over the calls.
# Knobs: PLAIN_ALGO (awac | iql), PLAIN_TESTS (empty: skip the tests), BENCH_PRESETS (default cs224r),
# PLAIN_SPEED_STEPS (20000; 0 skips the starter-tree comparison), PLAIN_RUNS (default cs224r; empty: none),
# PLAIN_BESIDE_STEPS (0: skipped; N: the same N-step run with 10 evaluations of 50 episodes with --eval-beside and
# --no-eval-beside, their Time_Elapsed and steps/s in eval_beside.txt; the end-to-end runs use the default, beside).
if [ "$PHASE" = plain ]; then
    PLAIN_ALGO=${PLAIN_ALGO:-awac}
    if [ -n "${PLAIN_TESTS-1}" ]; then
        timeout 240 python3 -m pytest -q -p no:cacheprovider tests/infrastructure/test_graph_step.py \
            tests/infrastructure/test_eval_beside.py tests/infrastructure/test_rl_trainer.py tests/infrastructure/test_preset_and_schedule.py \
            >"$OUT/tests_plain.log" 2>&1
        echo "plain graph tests rc=$? at $(($(date +%s) - T0)) s"; tail -3 "$OUT/tests_plain.log"
    fi
    if [ "${BENCH_STEPS:-200}" != 0 ]; then
        for algo in ${BENCH_ALGOS:-awac iql}; do
            for preset in ${BENCH_PRESETS:-default cs224r}; do
                suffix=$([ "$preset" = default ] || echo "_$preset")
                timeout 150 python3 benchmarks/bench_train.py --algo $algo --device "$DEVICE" --rounds 3 \
                    --steps "${BENCH_STEPS:-200}" --no-profile --no-single \
                    $([ "$preset" = default ] || echo "--preset $preset") ${BENCH_ARGS:-} 2>&1 \
                    | tee "$OUT/bench_plain_$algo$suffix.txt"
            done
        done
    fi
    if [ -n "$GEN" ]; then wait $GEN; GEN=; tail -2 "$OUT/generate.log"; fi
    PM=${MARGIN:-20}
    SPEED=${PLAIN_SPEED_STEPS:-20000}
    if [ "$SPEED" != 0 ]; then  # the starter tree + the solutions trains as fast as this tree
        STARTER=/tmp/starter_$$
        python3 scripts/make_handout.py "$STARTER" >/dev/null \
            && for d in agents critics policies; do cp cs224r/$d/*.py "$STARTER/cs224r/$d/"; done
        for tree in "$PWD" "$STARTER"; do
            name=$([ "$tree" = "$PWD" ] && echo solution_tree || echo starter_tree)
            ( cd "$tree" && timeout 200 env PYTHONPATH="$tree:$PYTHONPATH" python3 "scripts/run_$PLAIN_ALGO.py" \
                  --env-name "$ENV" --seed 1 --device "$DEVICE" --log-dir /tmp/speed_$$ --exp-name "$name" \
                  --total-steps $((2 * SPEED)) --eval-interval "$SPEED" --eval-episodes 1 ${TRAIN_ARGS:-} \
                  >>"$OUT/starter_speed.log" 2>&1 )
            rc=$?
            python3 - "$name" "$rc" /tmp/speed_$$/"$name"/seed1/metrics.csv <<'PY' | tee -a "$OUT/starter_speed.txt"
import csv, sys
name, rc, path = sys.argv[1:]
try:
    rows = list(csv.DictReader(open(path)))
    print(f"{name} rc={rc}: {float(rows[-1]['Train_StepsPerSecond']):.1f} steps/s over its 2nd interval "
          f"(after warm-up and capture), step {rows[-1]['step']}")
except (OSError, KeyError, IndexError) as err:
    print(f"{name} rc={rc}: no metrics ({err})")
PY
        done
    fi
    BESIDE=${PLAIN_BESIDE_STEPS:-0}
    for flag in $([ "$BESIDE" != 0 ] && echo --eval-beside --no-eval-beside); do  # what evaluating beside saves
        exp=${PLAIN_ALGO}_beside_${flag#--}
        timeout 240 python3 "scripts/run_$PLAIN_ALGO.py" --env-name "$ENV" --seed 1 --device "$DEVICE" \
            --log-dir /tmp/beside_$$ --exp-name "$exp" --total-steps "$BESIDE" --eval-interval $((BESIDE / 10)) \
            --eval-episodes 50 --no-progress $flag ${TRAIN_ARGS:-} >>"$OUT/eval_beside.log" 2>&1
        { echo "$exp rc=$? (header, last row: Time_Elapsed is the last column)"
          sed -n '1p;$p' /tmp/beside_$$/"$exp"/seed1/metrics.csv 2>/dev/null; } | tee -a "$OUT/eval_beside.txt"
    done
    for which in ${PLAIN_RUNS:-default cs224r}; do
        steps=$([ "$which" = cs224r ] && echo 300000 || echo "${TOTAL_STEPS:-1000000}")
        exp=${PLAIN_ALGO}_plain_graph_$which
        extra=$([ "$which" = cs224r ] && echo "--preset cs224r")
        resume=$(resume_flag "$exp")
        [ "$(left)" -gt $((PM + 60)) ] || { echo "no time left for $exp"; continue; }
        echo "$exp: $steps steps, 20 evaluations x 50 episodes, from $(($(date +%s) - T0)) s ${resume:+(resumed)}"
        timeout -s INT $(($(left) - PM)) python3 "scripts/run_$PLAIN_ALGO.py" --env-name "$ENV" \
            --seed 1 --device "$DEVICE" --log-dir "$RUNS" --exp-name "$exp" $extra --total-steps "$steps" \
            --eval-interval $((steps / 20)) --checkpoint-interval $((steps / 20)) --eval-episodes 50 $resume \
            ${TRAIN_ARGS:-} >>"$OUT/train_plain.log" 2>&1
        echo "$exp rc=$? at $(($(date +%s) - T0)) s (step, ..., Time_Elapsed of the last rows:)"
        { head -1 "$RUNS/$exp/seed1/metrics.csv"; tail -3 "$RUNS/$exp/seed1/metrics.csv"; } 2>/dev/null
        tar -czf "$OUT/ckpt_$exp.tgz" -C "$RUNS" "$exp" 2>/dev/null
    done
    grep -h "no CUDA graph\|setup" "$OUT/train_plain.log" "$OUT/starter_speed.log" 2>/dev/null | sort | uniq -c
    echo "plain done at $(($(date +%s) - T0)) s"
    exit 0
fi

TESTS_RC=0
if [ "$PHASE" != train ]; then
    # BENCH_COMPILE also runs the opt-in compiled tests (the compiled update replayed in the graphs == eager)
    CS224R_TEST_COMPILE=${BENCH_COMPILE:-} timeout $([ -n "${BENCH_COMPILE:-}" ] && echo 300 || echo 150) \
        python3 -m pytest -q -p no:cacheprovider ${TESTS:-tests/fast} ${TESTS_K:+-k "$TESTS_K"} >"$OUT/tests.log" 2>&1
    TESTS_RC=$?
    echo "tests rc=$TESTS_RC at $(($(date +%s) - T0)) s"; tail -3 "$OUT/tests.log"
    if [ "${BENCH_STEPS:-200}" != 0 ]; then
        for algo in ${BENCH_ALGOS:-awac iql}; do
            timeout $([ -n "${BENCH_COMPILE:-}" ] && echo 360 || echo 120) python3 benchmarks/bench_train.py \
                --algo $algo --device "$DEVICE" --rounds 3 --steps "${BENCH_STEPS:-200}" --no-profile \
                ${BENCH_COMPILE:+--compile} ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench_$algo.txt"
        done
    fi
fi
if [ -n "$GEN" ]; then
    wait $GEN
    tail -2 "$OUT/generate.log"
    cat "$CS224R_DATA"/*.report/summary.json >>"$OUT/generate.log" 2>/dev/null
fi
[ "$PHASE" = check ] && { echo "check done at $(($(date +%s) - T0)) s"; exit 0; }

GRAPH=--fast-cuda-graph
[ "$TESTS_RC" = 0 ] || GRAPH=--no-fast-cuda-graph  # a failing test: measure the eager fast path instead
MARGIN=${MARGIN:-20}  # seconds kept after the sweep for packing its files
RETRY_ARGS=${RETRY_ARGS:---no-fast-cuda-graph}  # a failed graph run is retried with these flags, as ${EXP}_retry
run() {  # resumes the run when its checkpoint is there (a warm machine, or ckpt_<exp>.tgz unpacked into $RUNS)
    local resume
    resume=$(resume_flag "$3") && echo "resuming $3 from its checkpoint"
    timeout -s INT "$1" python3 "scripts/run_$ALGO.py" --env-name "$ENV" --seeds 1 2 3 --fast $2 \
        --device "$DEVICE" --log-dir "$RUNS" --exp-name "$3" --total-steps "${TOTAL_STEPS:-1000000}" \
        $resume ${TRAIN_ARGS:-} >>"$OUT/train.log" 2>&1
}
unpack_inflight "$EXP"
echo "training from $(($(date +%s) - T0)) s with '$GRAPH', $(($(left) - MARGIN)) s left"
run $(($(left) - MARGIN)) "$GRAPH" "$EXP"
RC=$?
if [ "$RC" != 0 ] && [ "$RC" != 124 ] && [ "$RC" != 130 ] && [ "$GRAPH" = --fast-cuda-graph ] && [ "$(left)" -gt 80 ]; then
    echo "graph run failed (rc=$RC); '$RETRY_ARGS' for the time left"
    run $(($(left) - MARGIN)) "$RETRY_ARGS" "${EXP}_retry"
    RC=$?
fi
echo "training rc=$RC at $(($(date +%s) - T0)) s"
tail -c 3000 "$OUT/train.log" | tr '\r' '\n' | tail -15
for f in "$RUNS"/*/seed1/metrics.csv; do [ -f "$f" ] && { echo "$f"; cut -d, -f1,7,12- "$f"; }; done
tar -czf "$OUT/metrics.tgz" --exclude=checkpoint.pt -C "$RUNS" . 2>/dev/null
for d in "$RUNS"/*/; do  # checkpoints (to resume in a later session), one archive per experiment
    tar -czf "$OUT/ckpt_$(basename "$d").tgz" -C "$RUNS" "$(basename "$d")" --wildcards '*/checkpoint.pt' 2>/dev/null
done
echo "done at $(($(date +%s) - T0)) s"
