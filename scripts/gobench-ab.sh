#!/bin/sh
# gobench-ab.sh REV_A REV_B [ROUNDS]: the Go training step and forward pass
# (bench/gobench) of two commits, run alternately on this machine, A then B
# in each round, so that both see the same drift; then per configuration the
# median seconds per step (and CPU seconds per step) of each, and the median
# and range of the per-round ratios B/A. On a shared machine whose speed
# moves by 10% or more within minutes, the per-round ratio over 6-8 rounds
# resolves changes of a few percent that `make bench`'s single run cannot.
# It also checks that both give the same last loss (the backend's patches are
# meant to keep every value bit for bit): a difference is printed.
#
# Environment:
#   AB_CONFIGS  "MODE:SIZE:BATCH:STEPS ..." (default "train:128:8:8 train:320:2:4 infer:320:1:12")
#   AB_WARMUP   untimed steps before the timed ones (default 2)
#   AB_OUT      folder for the binaries and the raw results (default a temporary one, removed)
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
	echo "usage: scripts/gobench-ab.sh REV_A REV_B [ROUNDS]" >&2
	exit 2
fi
A=$1
B=$2
ROUNDS=${3:-6}
CONFIGS=${AB_CONFIGS:-"train:128:8:8 train:320:2:4 infer:320:1:12"}
WARMUP=${AB_WARMUP:-2}
export GOEXPERIMENT=${GOEXPERIMENT:-simd}
if [ -n "${AB_OUT:-}" ]; then
	OUT=$AB_OUT
	mkdir -p "$OUT"
else
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/gobench-ab.XXXXXX")
	trap 'git worktree prune; rm -rf "$OUT"' EXIT
fi

# build REV NAME: bench/gobench of commit REV as $OUT/NAME (a detached worktree).
build() {
	rev=$(git rev-parse --verify "$1^{commit}") || { echo "gobench-ab: $1 is not a commit" >&2; exit 2; }
	rm -rf "$OUT/src-$2"
	git worktree add -q --detach "$OUT/src-$2" "$rev"
	(cd "$OUT/src-$2" && go build -tags noxla -o "$OUT/$2" ./bench/gobench)
	git worktree remove --force "$OUT/src-$2"
	echo "gobench-ab: $2 = $1 ($(git log -1 --format=%h "$rev"))" >&2
}
build "$A" a
build "$B" b

: >"$OUT/results.txt"
for r in $(seq 1 "$ROUNDS"); do
	for c in $CONFIGS; do
		mode=${c%%:*}
		rest=${c#*:}
		size=${rest%%:*}
		rest=${rest#*:}
		batch=${rest%%:*}
		steps=${rest#*:}
		for side in a b; do
			line=$("$OUT/$side" -mode "$mode" -size "$size" -batch "$batch" -steps "$steps" -warmup "$WARMUP" 2>/dev/null | sed -n 's/^RESULT //p')
			[ -n "$line" ] || { echo "gobench-ab: $side $c failed" >&2; exit 1; }
			s=$(echo "$line" | sed 's/.*"s_per_step":\([0-9.e+-]*\).*/\1/')
			cpu=$(echo "$line" | sed 's/.*"cpu_s_per_step":\([0-9.e+-]*\).*/\1/')
			loss=$(echo "$line" | sed 's/.*"last_loss":\([0-9.e+-]*\).*/\1/')
			echo "$r $c $side $s $cpu $loss" | tee -a "$OUT/results.txt" >&2
		done
	done
done

echo
echo "| config | A s/step (median) | B s/step (median) | A CPU s/step | B CPU s/step | B/A per round: median [min, max] | rounds B faster | last loss |"
echo "|---|---|---|---|---|---|---|---|"
for c in $CONFIGS; do
	awk -v c="$c" '
	function median(v, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	$2 == c && $3 == "a" { na++; a[na] = $4; ca[na] = $5; la = $6; ra[$1] = $4 }
	$2 == c && $3 == "b" { nb++; b[nb] = $4; cb[nb] = $5; lb = $6; rb[$1] = $4 }
	END {
		n = 0; faster = 0
		for (r in ra) if (r in rb) { n++; q[n] = rb[r] / ra[r]; if (q[n] < 1) faster++ }
		lo = q[1]; hi = q[1]
		for (i = 2; i <= n; i++) { if (q[i] < lo) lo = q[i]; if (q[i] > hi) hi = q[i] }
		loss = (la == lb) ? la " (same)" : "A " la ", B " lb " (DIFFER)"
		printf "| %s | %.3f | %.3f | %.3f | %.3f | %.3f [%.3f, %.3f] | %d of %d | %s |\n", c, median(a, na), median(b, nb), median(ca, na), median(cb, nb), median(q, n), lo, hi, faster, n, loss
	}' "$OUT/results.txt"
done
