#!/usr/bin/env bash
# The N-pair family under each reduction alone, none and all, side by side in one run: the
# table of docs/performance.md ("The N-pair family, each reduction on and off"). One
# exploration at a time, each in its own process (peak RSS is per process), one explorer
# thread, the depth-first search (fingerprints only: the explorer large explorations use, and
# the only one sleep sets run on), so every row stores states the same way.
#
#   scripts/pairs-table.sh [MAX_N] [BIN] > table.md
#
# MAX_N (default 4): the largest N. BIN (default target/release/pincheck, built first).
# Rows whose reduced space is beyond what one core explores in minutes stop at a cap
# (`--max-states`, `cap` below; the `complete` column says so): their rate and bytes per state
# still count. On the project's 2-core VM the whole table took 57 minutes, half of it four
# pairs with every reduction (one thread).
set -euo pipefail
cd "$(dirname "$0")/.."
max_n=${1:-4}
bin=${2:-target/release/pincheck}
if [ "$bin" = target/release/pincheck ]; then cargo build --release -q; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The cap on a row's states: rows with the symmetry reduction complete; without it three pairs
# take 10^8 states and more, four pairs far more, explored in part.
cap() {
    case "$1:$2" in
        [12]:*) echo 400000000 ;;
        3:symmetry | 3:all | 3:all,sleep) echo 400000000 ;;
        3:*) echo 60000000 ;;
        4:all) echo 2000000000 ;;
        *) echo 20000000 ;;
    esac
}

echo "| pairs | policy | --reduce | states | transitions | complete | CPU s | states/CPU s | peak MiB | bytes/state | labels |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in $(seq 1 "$max_n"); do
    "$bin" family pairs "$n" > "$dir/pairs$n.pin"
    for policy in linux-5.18 linux-4.19; do
        if [ "$n" = 4 ] && [ "$policy" = linux-4.19 ]; then continue; fi
        if [ "$policy" = linux-4.19 ]; then
            reductions="none all"
        else
            reductions="none invisible generations independence symmetry signals late-skips sleep all all,sleep"
        fi
        for r in $reductions; do
            # Exit 3 is an incomplete exploration (a row at its cap), 1 a failed expectation
            # (the family has none); anything else (2: an error) must not become a row.
            rc=0
            /usr/bin/time -f "%U %M" -o "$dir/time" "$bin" check "$dir/pairs$n.pin" \
                --policy "$policy" --json --threads 1 --explore depth-first --reduce "$r" \
                --max-states "$(cap "$n" "$r")" > "$dir/out.json" || rc=$?
            if [ "$rc" = 2 ] || [ "$rc" -gt 3 ]; then
                echo "pairs-table: $n pairs, $policy, --reduce $r: exit $rc" >&2
                exit 1
            fi
            read -r user kb < <(tail -n 1 "$dir/time")
            jq -r --arg n "$n" --arg r "$r" --arg user "$user" --arg kb "$kb" '
                def commas: tostring
                    | if length <= 3 then . else (.[:length - 3] | commas) + "," + .[length - 3:] end;
                ($user | tonumber) as $u | ($kb | tonumber) as $k |
                "| \($n) | \(.policy) | \($r) | \(.states | commas) | \(.transitions | commas) | "
                + "\(if .complete then "yes" else "no" end) | \($u) | "
                + "\(if $u >= 0.05 then (.states / $u | floor | commas) else "-" end) | "
                + "\($k / 1024 | floor) | "
                + "\(if .states >= 100000 then ($k * 1024 / .states | floor | commas) else "-" end) | "
                + "\(.labels | join(" ")) |"' "$dir/out.json"
        done
    done
done
