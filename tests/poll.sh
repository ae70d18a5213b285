# wait_for SECONDS 'EXPRESSION': poll the expression every 20 ms until it
# holds (0) or SECONDS have passed (1). Sourced by the integration tests
# (integration/lib.sh) and the benchmarks that wait on a cluster.
wait_for() {
	local until=$(($(date +%s%3N) + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }')))
	until eval "$2"; do
		[ "$(date +%s%3N)" -lt "$until" ] || return 1
		sleep 0.02
	done
}
