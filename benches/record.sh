#!/usr/bin/env bash
# `actmap record` ingest: 4096-wide float32 rows with steps from a Python
# writer (benches/record/writer.py) piped into `actmap record - -o RUN`,
# binary version 2 frames of 1 and 16 rows, and text `@STEP name: values`
# lines. Each case: the writer alone into /dev/null (what Python can send),
# then writer | record; median over runs of rows/s, MB/s of float32 data,
# and the recorder's peak RSS. The run log is read back after each run.
#   bash benches/record.sh [rows] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
runs="${2:-3}"
work="${ACTMAP_BENCH_DIR:-/tmp/actmap-bench}/record"
mkdir -p "$work"
cargo build --release --locked --quiet
bin="$PWD/target/release/actmap"
py="$(bash .ci/pyenv.sh)"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "rows: $rows x 4096 float32 ($(( rows * 16384 / 1000000 )) MB), runs: $runs, $(nproc) cores"
echo
echo "| writer | Python alone, rows/s | record, rows/s | record, MB/s | recorder peak RSS |"
echo "|---|---|---|---|---|"
for case in "v2 1" "v2 16" "text 256"; do
    read -r mode batch <<<"$case"
    n=$rows
    [ "$mode" = text ] && n=$(( rows / 10 ))
    alone=() rec=() peak=0
    for _ in $(seq "$runs"); do
        out=$("$py" benches/record/writer.py "$mode" "$n" "$batch" 2>&1 >/dev/null)
        alone+=("$(awk '{printf "%.0f", $1 / $2}' <<<"$out")")
        rm -rf "$work/run"
        start=$EPOCHREALTIME
        "$py" benches/record/writer.py "$mode" "$n" "$batch" 2>/dev/null \
            | /usr/bin/time -f '%M' -o "$work/rss" "$bin" record - -o "$work/run" -q
        end=$EPOCHREALTIME
        rec+=("$(awk -v a="$start" -v b="$end" -v n="$n" 'BEGIN {printf "%.0f", n / (b - a)}')")
        rss=$(cat "$work/rss"); [ "$rss" -gt "$peak" ] && peak=$rss
        got=$("$bin" info "$work/run" --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["channels"][0]["records"])')
        [ "$got" = "$n" ] || { echo "run log has $got of $n rows" >&2; exit 1; }
    done
    a=$(printf '%s\n' "${alone[@]}" | median)
    r=$(printf '%s\n' "${rec[@]}" | median)
    label="binary v2, $batch rows per frame"
    [ "$mode" = text ] && label="text @STEP lines"
    printf '| %s | %s | %s | %s | %d MiB |\n' "$label" "$a" "$r" \
        "$(awk -v r="$r" 'BEGIN {printf "%.0f", r * 16384 / 1e6}')" $((peak / 1024))
    echo "  $label runs: ${rec[*]}" >&2
done
