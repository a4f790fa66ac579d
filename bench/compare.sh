#!/usr/bin/env bash
# docbatch beside its peers on one folder, back to back, on this machine.
# Usage: bench/compare.sh FOLDER [JOBS] [ROUNDS]
#   Prints one line per docbatch round (wall, docs/s, MB/s, CPU use of JOBS cores, peak RSS of the
#   coordinator or its largest worker as /usr/bin/time sees it), then runs ../shared/bench/peers.sh on
#   the PDFs of FOLDER when there are any. Needs GNU time (apt-get install time).
set -eu
dir=$1; jobs=${2:-2}; rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
files=$(find "$dir" -type f | wc -l); bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
echo "$files files, $((bytes / 1000000)) MB in $dir, $jobs jobs"
for round in $(seq "$rounds"); do
  work=$(mktemp -d)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    "$repo/.venv/bin/docbatch" run "$dir" -j "$jobs" -q -o "$work/out" --state "$work/state" || true
  read -r wall user sys rss < <(tail -n 1 "$work/time")
  python3 -c "print(f'docbatch round $round                 wall {float($wall):7.2f}s  docs/s {($files/float($wall)):8.1f}  MB/s {($bytes/1e6/float($wall)):6.2f}  cpu {((float($user)+float($sys))/float($wall)/$jobs):.2f}  peak-rss {int($rss)//1024} MB')"
  rm -rf "$work"
done
if [ -n "$(find "$dir" -type f -name '*.pdf' -print -quit)" ] && [ -x "$repo/../shared/bench/peers.sh" ]; then
  bash "$repo/../shared/bench/peers.sh" "$dir" "$jobs" 2>/dev/null | grep -v '^WARNING'
fi
