#!/usr/bin/env bash
# Side-by-side: actmap vs matplotlib (imshow, pcolormesh, plot) vs plotters,
# each turning the same .npy into a 1920x1080 PNG with axes, tick labels and a
# colorbar (line charts: axes only). Median wall time and max peak RSS per
# case and tool; a Markdown table goes to stdout and $ACTMAP_BENCH_DIR/peers.md.
#   bash benches/peers.sh [runs]                      # default 5 runs
#   PEERS_CASES="33x12 4x29" PEERS_TOOLS="actmap matplotlib-imshow" bash benches/peers.sh 3
# Cases: 33x12 300000x12 20000x4096 100000x4096 4x29 panels line4096
# Tools: actmap matplotlib-imshow matplotlib-pcolormesh plotters
#   (line4096: the matplotlib-imshow column runs `plot`, pcolormesh is n/a;
#    panels: each matplotlib column draws a 2x2 grid with that function)
# ACTMAP_BIN: an actmap binary to time instead of building target/release/actmap.
# PLOTTERS_BIN: a built plotters peer to time instead of building it.
# PEERS_PY: a python with numpy and matplotlib, instead of a venv made here.
# PEERS_NO_SETUP=1: install nothing (a machine without package access).
# PEERS_RUNS_SLOW (3): runs for a tool whose first run took over 20 s.
# PEERS_TIMEOUT (300): seconds per run; a run past it, or one that fails (out
#   of memory, ...), is reported as such and the tool's remaining runs of that
#   case are skipped.
# PEERS_MEM_LIMIT (85% of RAM, in MiB): address-space cap for the matplotlib
#   runs, so a case too big for matplotlib fails with MemoryError instead of
#   waking the kernel's OOM killer (actmap and plotters run uncapped).
# Data (numpy, seed 0; float32 standard normal with planted spikes of +28 and
# -35) is written once into the bench dir; the 100000x4096 file is 1.6 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
slow_runs="${PEERS_RUNS_SLOW:-3}"
tmo="${PEERS_TIMEOUT:-300}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}"
cases=(${PEERS_CASES:-33x12 300000x12 20000x4096 100000x4096 4x29 panels line4096})
tools=(${PEERS_TOOLS:-actmap matplotlib-imshow matplotlib-pcolormesh plotters})
data="$work/peers-data"
outs="$work/peers-out"
mkdir -p "$data" "$outs"

if [ -z "${PEERS_NO_SETUP:-}" ]; then
    bash .ci/setup.sh
    [ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
fi
if [ -z "${ACTMAP_BIN:-}" ]; then
    cargo build --release --locked --quiet
fi
if [ -z "${PLOTTERS_BIN:-}" ]; then
    cargo build --release --locked --quiet --manifest-path benches/peers/plotters/Cargo.toml
fi
actmap="${ACTMAP_BIN:-$PWD/target/release/actmap}"
plotters="${PLOTTERS_BIN:-$PWD/benches/peers/plotters/target/release/actmap-peer-plotters}"
mpl="$PWD/benches/peers/mpl.py"
mem_limit="${PEERS_MEM_LIMIT:-$(awk '/MemTotal/ {printf "%d", $2 * 0.85 / 1024}' /proc/meminfo)}"

py="${PEERS_PY:-$work/venv/bin/python}"
if ! { [ -x "$py" ] && "$py" -c 'import numpy, matplotlib' 2>/dev/null; }; then
    [ -x "$py" ] || python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q numpy matplotlib
fi

# ---- data -------------------------------------------------------------------
"$py" - "$data" "${cases[@]}" <<'PY'
import os, sys, numpy as np
data, cases = sys.argv[1], sys.argv[2:]

def save(name, make):
    path = os.path.join(data, name + ".npy")
    if not os.path.exists(path):
        np.save(path + ".tmp.npy", make())
        os.replace(path + ".tmp.npy", path)

def grid(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, cols), dtype=np.float32)
    # Same spikes as benches/e2e.sh (identical array for 20000x4096).
    for i, c in enumerate([17, 900, 1555, 2450, 3001, 4000]):
        a[(i * 3331) % rows, c % cols] = 28.0 if i % 2 == 0 else -35.0
    return a

def line():
    a = np.random.default_rng(0).standard_normal(4096, dtype=np.float32)
    a[1234] = 28.0
    return a

for case in cases:
    if case == "panels":
        for k in range(4):
            save(f"panel{k}_20x20", lambda k=k: grid(20, 20, seed=k))
    elif case == "line4096":
        save("line4096", line)
    else:
        r, c = map(int, case.split("x"))
        save(f"acts_{case}", lambda: grid(r, c))
PY
inputs() {  # case -> input files
    case "$1" in
        panels) echo "$data"/panel{0,1,2,3}_20x20.npy ;;
        line4096) echo "$data/line4096.npy" ;;
        *) echo "$data/acts_$1.npy" ;;
    esac
}

# The command for a tool on a case, or nothing when the tool has no such chart.
command_for() {  # tool case out
    local tool=$1 case=$2 out=$3 in py="prlimit --as=$((mem_limit * 1048576)) $py"
    in=($(inputs "$case"))
    case "$tool:$case" in
        actmap:line4096) echo "$actmap render ${in[*]} --kind line -o $out --size 1920x1080 -q" ;;
        actmap:panels) echo "$actmap render ${in[*]} --grid 2x2 --cmap viridis -o $out --size 1920x1080 -q" ;;
        actmap:*) echo "$actmap render ${in[*]} --cmap viridis -o $out --size 1920x1080 -q" ;;
        matplotlib-imshow:line4096) echo "$py $mpl line $out ${in[*]}" ;;
        matplotlib-pcolormesh:line4096) ;;
        matplotlib-imshow:panels) echo "$py $mpl panels $out ${in[*]}" ;;
        matplotlib-pcolormesh:panels) echo "$py $mpl panels-pcolormesh $out ${in[*]}" ;;
        matplotlib-imshow:*) echo "$py $mpl imshow $out ${in[*]}" ;;
        matplotlib-pcolormesh:*) echo "$py $mpl pcolormesh $out ${in[*]}" ;;
        plotters:*) echo "$plotters $out ${in[*]}" ;;
        *) echo "unknown tool $tool" >&2; exit 2 ;;
    esac
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ---- machine ----------------------------------------------------------------
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
"$py" - "$data/probe.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.zeros((2, 2), np.float32))
PY
adapter=$("$actmap" render "$data/probe.npy" -o "$outs/probe.png" -v 2>&1 | sed -n 's/^adapter: //p' | head -n1)
vk=$(vulkaninfo --summary 2>/dev/null | awk -F'= ' '/deviceName/ {print $2}' | paste -sd, || true)
[ -n "$adapter" ] || adapter="${vk:-lavapipe (software Vulkan)}"
mpl_version=$("$py" -c 'import matplotlib, numpy; print(f"matplotlib {matplotlib.__version__}, numpy {numpy.__version__}")')
plotters_version=$(awk '/^name = "plotters"$/ {getline; print $3}' benches/peers/plotters/Cargo.lock | tr -d '"')
machine="$(nproc) cores, $cpu, $mem RAM; wgpu adapter: $adapter; vulkaninfo: ${vk:-none}; $mpl_version, plotters $plotters_version, $(python3 --version 2>&1)"
echo "machine: $machine" >&2

# ---- runs -------------------------------------------------------------------
declare -A cell secs
for case in "${cases[@]}"; do
    for tool in "${tools[@]}"; do
        out="$outs/${case}_${tool}.png"
        cmd=$(command_for "$tool" "$case" "$out")
        if [ -z "$cmd" ]; then cell[$case,$tool]="n/a"; continue; fi
        times=() peak=0 status=ok n=$runs
        for ((i = 1; i <= n; i++)); do
            rm -f "$out"
            start=$EPOCHREALTIME
            rc=0
            /usr/bin/time -f '%M' -o "$work/peers-rss" timeout -k 10 "$tmo" $cmd \
                >"$work/peers-log" 2>&1 || rc=$?
            end=$EPOCHREALTIME
            t=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
            rss=$(tail -n1 "$work/peers-rss" 2>/dev/null || true)
            [[ "$rss" =~ ^[0-9]+$ ]] || rss=0
            if [ "$rss" -gt "$peak" ]; then peak=$rss; fi
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 -a "${t%.*}" -ge "$tmo" ]; then
                status="timeout"; break
            elif [ "$rc" -ne 0 ] || [ ! -s "$out" ]; then
                status="failed (exit $rc)"
                if grep -q MemoryError "$work/peers-log"; then status="failed (MemoryError)"; fi
                if [ "$rc" -eq 137 ]; then status="failed (killed: out of memory?)"; fi
                tail -n 5 "$work/peers-log" | sed "s/^/  $tool $case: /" >&2
                break
            fi
            times+=("$t")
            if [ "$i" -eq 1 ] && awk -v t="$t" 'BEGIN {exit !(t > 20)}'; then
                n=$((slow_runs < runs ? slow_runs : runs))
            fi
        done
        if [ "$status" = ok ]; then
            med=$(printf '%s\n' "${times[@]}" | median)
            secs[$case,$tool]=$med
            cell[$case,$tool]=$(printf '%.3f s / %d MiB' "$med" $((peak / 1024)))
            if [ "${#times[@]}" -ne "$runs" ]; then cell[$case,$tool]+=" (${#times[@]} runs)"; fi
        elif [ "$status" = timeout ]; then
            cell[$case,$tool]="timeout (> $tmo s) / $((peak / 1024)) MiB"
        else
            cell[$case,$tool]="$status / $((peak / 1024)) MiB"
        fi
        echo "$case $tool: ${cell[$case,$tool]}  [${times[*]}]" >&2
    done
done

# ---- table ------------------------------------------------------------------
{
    echo "Machine: $machine"
    echo
    echo "Each cell: median wall time over $runs runs (tools whose first run took over 20 s: $((slow_runs < runs ? slow_runs : runs)) runs) / peak RSS (max over runs); matplotlib capped at $mem_limit MiB of address space. 1920x1080 PNG with axes, tick labels and colorbar, viridis. line4096: the matplotlib-imshow column is \`plot\`."
    echo
    header="| case |" rule="|---|"
    for tool in "${tools[@]}"; do header+=" $tool |"; rule+="---|"; done
    [[ " ${tools[*]} " == *" actmap "* ]] && { header+=" actmap speed-up vs best peer |"; rule+="---|"; }
    echo "$header"
    echo "$rule"
    for case in "${cases[@]}"; do
        row="| $case |"
        for tool in "${tools[@]}"; do row+=" ${cell[$case,$tool]} |"; done
        if [[ " ${tools[*]} " == *" actmap "* ]]; then
            best="" best_tool=""
            for tool in "${tools[@]}"; do
                [ "$tool" = actmap ] && continue
                s="${secs[$case,$tool]:-}"
                [ -n "$s" ] || continue
                if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN {exit !(a < b)}'; then
                    best=$s best_tool=$tool
                fi
            done
            a="${secs[$case,actmap]:-}"
            if [ -n "$a" ] && [ -n "$best" ]; then
                row+=" $(awk -v a="$a" -v b="$best" 'BEGIN {printf "%.2fx", b / a}') ($best_tool) |"
            else
                row+=" n/a |"
            fi
        fi
        echo "$row"
    done
} | tee "$work/peers.md"
