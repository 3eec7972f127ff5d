#!/bin/sh
# report.sh DIR: the tables of DIR/results.jsonl (one siobench result a
# line), sio-hub and node side by side with their ratio, and DIR/chart.svg.
set -eu
DIR=$1
RES=$DIR/results.jsonl
HERE=$(dirname "$0")

# One line per scenario, in the order run: the sio result and the node
# result joined (either may be missing: null fields print as "-").
rows() {
	jq -s -r --arg fields "$1" '
	  (map(.scenario) | reduce .[] as $s ([]; if index([$s]) then . else . + [$s] end)) as $order
	  | ($fields | split(" ")) as $f
	  | $order[] as $s
	  | (map(select(.scenario == $s and .server == "sio")) | last) as $a
	  | (map(select(.scenario == $s and .server == "node")) | last) as $b
	  | [$s, (($a // $b).clients)] + [$f[] as $k | ($a[$k] // null), ($b[$k] // null)]
	  | map(if . == null then "-" else tostring end) | @tsv' "$RES"
}

cat <<EOF
sio-hub vs socket.io $(jq -r 'select(.server=="node") | "4.8 (Node)"' "$RES" | head -n 1)
$(sed -n 1p "$DIR/command.txt" 2>/dev/null)

Delivery: messages delivered to clients per second, latency from the
send timestamp to the client's read (ms), lost+duplicated+reordered
messages, clients dropped by the server, generator CPU (100% = the
generator is the bottleneck; marked ! from 90%).

EOF
rows "msgs_per_s p50_us p99_us p999_us lost duplicated reordered disconnects gen_cpu_pct unexpected" |
awk -F'\t' '
function r(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
function ms(v) { return v == "-" ? "-" : sprintf("%.2f", v / 1000) }
function k(v) { return v == "-" ? "-" : sprintf("%.0fk", v / 1000) }
function bad(a, b, c, d) { return a == "-" ? "-" : a + b + c + d }
function none(v) { return v == "-" || v == "0" }
function gen(v) { return v == "-" ? "-" : (v >= 90 ? v "!" : v) }
BEGIN {
	printf "%-11s %6s | %9s %9s %6s | %-21s | %-21s | %-9s | %-7s | %s\n",
		"scenario", "N", "sio/s", "node/s", "ratio", "sio p50/p99/p99.9", "node p50/p99/p99.9",
		"bad s/n", "drops", "gen% s/n"
}
{
	if (none($3) && none($4)) next	# idle: in the table below
	printf "%-11s %6s | %9s %9s %6s | %6s %6s %7s | %6s %6s %7s | %4s/%-4s | %3s/%-3s | %s/%s\n",
		$1, $2, k($3), k($4), r($3, $4), ms($5), ms($7), ms($9), ms($6), ms($8), ms($10),
		bad($11, $13, $15, $21), bad($12, $14, $16, $22), $17, $18, gen($19), gen($20)
}'

cat <<'EOF'

Fan-out (ms): per event, from its send to the first recipient's read
(the server's own delay), and from the first recipient's read to the
last one's (how long the server and the generator take to go through
every recipient's socket).

EOF
rows "first_p50_us first_p99_us spread_p50_us spread_p99_us msgs_per_s" |
awk -F'\t' '
function ms(v) { return v == "-" ? "-" : sprintf("%.2f", v / 1000) }
function none(v) { return v == "-" || v == "0" }
BEGIN {
	printf "%-11s %6s | %-17s | %-17s | %-17s | %-17s\n", "scenario", "N",
		"sio first p50/p99", "node first", "sio spread", "node spread"
}
{
	if (none($11) && none($12)) next
	printf "%-11s %6s | %8s %8s | %8s %8s | %8s %8s | %8s %8s\n", $1, $2,
		ms($3), ms($5), ms($4), ms($6), ms($7), ms($9), ms($8), ms($10)
}'

cat <<'EOF'

Cost: server CPU seconds per million delivered messages (sio-hub plus
sio-emit in pipe and rooms; node alone, which reads its stdin itself),
peak RSS (MB), RSS per connection after connecting (KB) and the kernel's
slab growth per connection (KB, both ends of the loopback connection).

EOF
rows "cpu_s_per_M aux_cpu_s rss_peak_kb rss_per_conn_b slab_per_conn_b server_cpu_pct msgs_per_s" |
awk -F'\t' '
function r(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
function kb(v) { return v == "-" ? "-" : sprintf("%.1f", v / 1024) }
function mb(v) { return v == "-" ? "-" : sprintf("%.0f", v / 1024) }
BEGIN {
	printf "%-11s %6s | %7s %7s %6s | %6s %6s | %7s %7s %6s | %6s %6s | %s\n",
		"scenario", "N", "sio s/M", "node", "ratio", "sioMB", "nodeMB",
		"sioKB/c", "nodeKB/c", "ratio", "slabKB", "(node)", "server CPU% s/n"
}
{
	cpu_s = ($15 == "0") ? "-" : $3; cpu_n = ($16 == "0") ? "-" : $4
	printf "%-11s %6s | %7s %7s %6s | %6s %6s | %7s %7s %6s | %6s %6s | %s/%s\n",
		$1, $2, cpu_s, cpu_n, r(cpu_s, cpu_n), mb($7), mb($8), kb($9), kb($10), r($9, $10),
		kb($11), kb($12), $13, $14
}'

cat <<'EOF'

Idle and the connection wave: server CPU while N clients only heartbeat,
pings answered, drops, RSS before connecting, after, and some seconds
after all N disconnected (the wave); the verdict (within 10% of the
base) is given for VmRSS and for RssAnon, r/a (RssAnon: heap and other
private memory, which a leak or fragmentation would keep; VmRSS also
counts library code pages first run by a connection, shared and clean),
and what 1,000,000 connections
would take at the measured cost (process RSS per connection, plus half
of the slab growth, the server's end).

EOF
jq -r 'select(.mode == "idle") | [.scenario, .server, .clients, .connected, .server_cpu_pct,
	.pings, .disconnects, .rss_base_kb, .rss_conn_kb, .rss_after_wave_kb,
	.rss_per_conn_b, .slab_per_conn_b, (.anon_base_kb // -1), (.anon_after_wave_kb // -1)] | @tsv' "$RES" |
awk -F'\t' '
BEGIN {
	printf "%-12s %-5s %6s %6s | %5s %6s %5s | %7s %7s %7s %9s %-8s | %s\n",
		"scenario", "srv", "N", "conn", "CPU%", "pings", "drops",
		"baseMB", "connMB", "afterMB", "anon b/a", "<10% r/a", "1M connections (GiB)"
}
{
	# older results carry no RssAnon: judge those on VmRSS
	ab = $13 > 0 ? $13 : $8
	aa = $13 > 0 ? $14 : $10
	ok = (($10 >= 0 && $10 <= $8 * 1.10) ? "yes" : "no") "/" ((aa >= 0 && aa <= ab * 1.10) ? "yes" : "no")
	gib = ($11 + $12 / 2) * 1e6 / 1073741824
	printf "%-12s %-5s %6s %6s | %5s %6s %5s | %7.1f %7.1f %7.1f %4.1f/%-4.1f %-7s | %.1f (%.1f process + %.1f kernel)\n",
		$1, $2, $3, $4, $5, $6, $7, $8 / 1024, $9 / 1024, $10 / 1024, ab / 1024, aa / 1024, ok, gib,
		$11 * 1e6 / 1073741824, $12 / 2 * 1e6 / 1073741824
}'

# ---- the chart ---------------------------------------------------------
if command -v gnuplot >/dev/null; then
	jq -s -r '
	  (map(select(.delivered > 0) | .scenario) | reduce .[] as $s ([]; if index([$s]) then . else . + [$s] end))[] as $s
	  | (map(select(.scenario == $s and .server == "sio")) | last) as $a
	  | (map(select(.scenario == $s and .server == "node")) | last) as $b
	  | [$s, ($a.msgs_per_s // 0), ($b.msgs_per_s // 0),
	     ($a.p50_us // 0) / 1000, ($a.p99_us // 0) / 1000, ($a.p999_us // 0) / 1000,
	     ($b.p50_us // 0) / 1000, ($b.p99_us // 0) / 1000, ($b.p999_us // 0) / 1000,
	     ($a.cpu_s_per_M // 0), ($b.cpu_s_per_M // 0)] | @tsv' "$RES" >"$DIR/chart.dat"
	if [ -s "$DIR/chart.dat" ] && gnuplot -c "$HERE/chart.gp" "$DIR/chart.dat" \
		"$DIR/chart.svg" "$(sed -n 1p "$DIR/command.txt" | tr -d '#')"; then
		echo
		echo "chart: $DIR/chart.svg"
	fi
fi
