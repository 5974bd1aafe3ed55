# wait_idle: wait (up to BENCH_WAIT_S seconds, default 120) until other
# processes leave the CPUs mostly idle (<= 15% busy over 3 s); timings taken
# on a busy machine are not comparable (OpenMP in PyTorch suffers most).
# Sourced by scripts/bench.sh and scripts/bench-profile.sh; WAIT_NAME names
# the caller in its messages.
WAIT_S=${BENCH_WAIT_S:-120}
wait_idle() {
	waited=0
	while :; do
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		sleep 3
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		pct=$(echo "$a $b" | awk '{d=$4-$2; if (d<=0) d=1; printf "%d", 100*($3-$1)/d}')
		[ "$pct" -le 15 ] && return 0
		waited=$((waited + 3))
		if [ "$waited" -ge "$WAIT_S" ]; then
			echo "${WAIT_NAME:-bench}: machine still ${pct}% busy after ${WAIT_S}s, running anyway" >&2
			return 0
		fi
		[ $((waited % 30)) -lt 3 ] && echo "${WAIT_NAME:-bench}: machine ${pct}% busy, waiting..." >&2
	done
}
