# Shared by the end-to-end bench scripts (source it): `median` of numbers
# on stdin, and `measure LABEL CMD...`, which runs CMD $runs times (the
# caller's variable), prints a Markdown row `| LABEL | median | peak RSS |
# runs |` and leaves the median in $last_median. Needs $work (a scratch
# directory) and GNU time at /usr/bin/time.

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

measure() {
    local label="$1"; shift
    local times=() peak=0
    for _ in $(seq "$runs"); do
        local start=$EPOCHREALTIME
        /usr/bin/time -f '%M' -o "$work/rss" "$@" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
        local end=$EPOCHREALTIME
        times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')")
        local rss; rss=$(cat "$work/rss"); [ "$rss" -gt "$peak" ] && peak=$rss
    done
    last_median=$(printf '%s\n' "${times[@]}" | median)
    printf '| %s | %s s | %d MiB | %s |\n' "$label" "$last_median" $((peak / 1024)) "${times[*]}"
}
