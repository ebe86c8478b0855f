#!/usr/bin/env bash
# Instructions per event for each library in the encode bench, counted by
# callgrind: unlike wall-clock time, the count does not move with the
# machine's load, so the ratios are stable on a shared 2-core machine.
#
#   crates/ssekit/benches/instructions.sh      (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v valgrind >/dev/null || { echo "install valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo bench -p ssekit --bench encode --no-run 2>/dev/null
bench=$(ls -t target/release/deps/encode-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
for size in small typical multiline; do
  for pair in "encode ssekit ssekit_encode" "encode warp warp_encode" "body ssekit poll_ssekit" "body axum poll_axum"; do
    set -- $pair
    name="$1/$size/$2"
    file="$out/${1}_${size}_$2.cg"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$bench" --bench --profile-time 1 "^$name\$" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes --tree=caller "$file" 2>/dev/null | python3 -c '
import re, sys
fn, name = sys.argv[1], sys.argv[2]
calls, cost = 0, None
block = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        block = []
        continue
    block.append(line)
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\*\s+\S+:encode::" + fn + r" \[", line)
    if m and cost is None:
        cost = int(m.group(1).replace(",", ""))
        calls = sum(int(c.replace(",", "")) for l in block[:-1] for c in re.findall(r"\(([\d,]+)x\)", l))
print(f"{name:24} {cost / calls:10.0f} instructions per event ({calls} events)")
' "$3" "$name"
  done
done
rm -rf "$out"
