#!/usr/bin/env bash
# compare.sh: the same zone and the same queries against pharosd, Knot, NSD and gdnsd, one at a time,
# each server with one worker pinned to CPU 0 and dnsperf pinned to CPU 1; reports completed
# queries, queries/s, lost queries and the server's CPU time per query. See bench/README.md.
#
#   bench/compare.sh [-l SECONDS] [-c CLIENTS] [-q OUTSTANDING] [-Q MAXQPS] [-w WARMUP_SECONDS]
#                    [-n NAMES] [-s "pharosd knot nsd gdnsd"] [-p BASEPORT] [-o OUT.md] [-e] [-k]
#
#   -l  seconds of load per server (default 10)        -c  dnsperf clients (default 1)
#   -q  outstanding queries (default 100)              -Q  cap on queries/s (default: none)
#   -w  warm-up seconds before measuring (default 1)   -n  owner names in the zone (default 10000)
#   -s  servers to run, in order (default all four)    -p  first port (default 15300, +1 per server)
#   -o  also write the markdown report to OUT.md       -e  send EDNS0 (dnsperf -e, dig +edns)
#   -k  keep the work directory (configs, logs, zone)
#
# Environment: PHAROSD (default build/release/app/pharosd), SERVER_CPU (0), CLIENT_CPU (1).
# Needs: scripts/install-deps.sh --bench. Loopback only; every loop is bounded; not run by CI.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

cmdline="bench/compare.sh $*"
duration=10 clients=1 outstanding=100 maxqps="" warmup=1 names=10000 servers=$ALL_SERVERS
baseport=15300 outfile="" edns=0 keep=0
while getopts "l:c:q:Q:w:n:s:p:o:ek" opt; do
  case "$opt" in
    l) duration=$OPTARG ;; c) clients=$OPTARG ;; q) outstanding=$OPTARG ;; Q) maxqps=$OPTARG ;;
    w) warmup=$OPTARG ;; n) names=$OPTARG ;; s) servers=$OPTARG ;; p) baseport=$OPTARG ;;
    o) outfile=$OPTARG ;; e) edns=1 ;; k) keep=1 ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
done
for v in duration clients outstanding warmup names baseport; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "compare.sh: $v must be a whole number" >&2; exit 2; }
done
[ -z "$maxqps" ] || [[ $maxqps =~ ^[0-9]+$ ]] || { echo "compare.sh: -Q must be a number" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || { echo "compare.sh: -l must be 1..600" >&2; exit 2; }
for t in dnsperf dig taskset python3; do
  command -v "$t" >/dev/null || { echo "compare.sh: $t missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pharos-compare.XXXXXX)
cleanup() {
  srv_stop
  if [ "$keep" -eq 1 ]; then bench_log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

origin=example.com
python3 "$BENCH_DIR/gen_zone.py" mixed --out "$work/data" --origin "$origin" --names "$names" >&2 || exit 1
zonefile=$work/data/$origin.zone
queries=$work/data/queries.txt
samples=$work/data/samples.txt

perf_args=(-s 127.0.0.1 -d "$queries" -l "$duration" -c "$clients" -q "$outstanding")
[ -n "$maxqps" ] && perf_args+=(-Q "$maxqps")
dig_edns=+noedns
[ "$edns" -eq 1 ] && { perf_args+=(-e); dig_edns=+edns=0; }

# One line per sample query: status, flags and every record of every section, sorted.
signature() {
  local port=$1 name type out
  while read -r name type; do
    out=$(dig @127.0.0.1 -p "$port" +norec "$dig_edns" +nocookie +tries=1 +time=2 +noall +comments \
            +answer +authority +additional "$name" "$type" 2>&1)
    printf '%s %s | %s | %s | %s\n' "$name" "$type" \
      "$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")" \
      "$(sed -n 's/^;; flags: \([^;]*\);.*/\1/p' <<<"$out")" \
      "$(grep -v '^;' <<<"$out" | grep . | tr -s ' \t' ' ' | sort | paste -sd '&')"
  done < "$samples"
}

declare -A R_DONE R_QPS R_LOST R_LAT R_CPU R_CPUQ R_MATCH R_NOTE R_RCODES R_VER
ref_sig="" ref_name=""
port=$baseport
for srv in $servers; do
  R_NOTE[$srv]=""
  port=$((port + 1))
  if ! srv_available "$srv"; then
    bench_log "$srv: not installed / not built; skipped"
    R_NOTE[$srv]="not available"; continue
  fi
  R_VER[$srv]=$(srv_version "$srv")
  if ! port_free "$port"; then
    bench_log "$srv: port $port already in use; skipped"
    R_NOTE[$srv]="port $port busy"; continue
  fi
  srv_setup "$srv" "$work" "$port" "$origin" "$zonefile" || { R_NOTE[$srv]="setup failed"; continue; }
  srv_start "$srv"
  probe_name=$(head -1 "$samples" | cut -d' ' -f1) probe_type=$(head -1 "$samples" | cut -d' ' -f2)
  if ! srv_wait_answer "$port" "$probe_name" "$probe_type" 60 >/dev/null || ! srv_alive; then
    bench_log "$srv: did not start or does not answer; its log:"
    srv_logs >&2
    srv_stop
    R_NOTE[$srv]="did not start (log above)"; continue
  fi

  # Same work check: every sample query must get the same response as from the first server.
  signature "$port" > "$SRV_DIR/signature.txt"
  if [ -z "$ref_name" ]; then
    ref_name=$srv ref_sig=$SRV_DIR/signature.txt
    R_MATCH[$srv]="reference"
    bench_log "$srv: sample responses (the reference for the others):"
    sed 's/^/    /' "$ref_sig" >&2
  elif diff -q "$ref_sig" "$SRV_DIR/signature.txt" >/dev/null; then
    R_MATCH[$srv]="yes"
  else
    R_MATCH[$srv]="**no**"
    bench_log "$srv: responses differ from $ref_name (< $ref_name, > $srv):"
    diff "$ref_sig" "$SRV_DIR/signature.txt" | sed 's/^/    /' >&2
  fi

  if [ "$warmup" -gt 0 ]; then
    taskset -c "$CLIENT_CPU" timeout $((warmup + 30)) dnsperf "${perf_args[@]}" -p "$port" -l "$warmup" \
      > "$SRV_DIR/warmup.txt" 2>&1
  fi
  c0=$(tree_cpu_ticks "$SRV_PID")
  taskset -c "$CLIENT_CPU" timeout $((duration + 60)) dnsperf "${perf_args[@]}" -p "$port" \
    > "$SRV_DIR/dnsperf.txt" 2>&1
  rc=$?
  c1=$(tree_cpu_ticks "$SRV_PID")
  alive=1; srv_alive || alive=0
  srv_stop
  if [ "$alive" -eq 0 ]; then
    bench_log "$srv: died during the run; its log:"
    srv_logs >&2
    R_NOTE[$srv]="died during the run"
  fi
  [ "$rc" -eq 0 ] || { bench_log "$srv: dnsperf exit $rc"; cat "$SRV_DIR/dnsperf.txt" >&2; }

  out=$SRV_DIR/dnsperf.txt
  R_DONE[$srv]=$(awk '/Queries completed:/ {print $3}' "$out")
  R_LOST[$srv]=$(awk '/Queries lost:/ {print $3}' "$out")
  R_QPS[$srv]=$(awk '/Queries per second:/ {printf "%.0f", $4}' "$out")
  R_LAT[$srv]=$(awk '/Average Latency/ {printf "%.3f", $4 * 1000}' "$out")
  R_RCODES[$srv]=$(sed -n 's/^ *Response codes: *//p' "$out" | sed 's/ ([0-9.]*%)//g')
  ticks=$((c1 - c0))
  R_CPU[$srv]=$(awk -v t="$ticks" -v h="$CLK_TCK" 'BEGIN {printf "%.2f", t / h}')
  if [ -n "${R_DONE[$srv]}" ] && [ "${R_DONE[$srv]}" -gt 0 ]; then
    R_CPUQ[$srv]=$(awk -v t="$ticks" -v h="$CLK_TCK" -v n="${R_DONE[$srv]}" 'BEGIN {printf "%.3f", t / h * 1e6 / n}')
  else
    R_CPUQ[$srv]=""
    bench_log "$srv: no completed queries"; cat "$out" >&2
  fi
  bench_log "$srv: completed=${R_DONE[$srv]:-?} qps=${R_QPS[$srv]:-?} lost=${R_LOST[$srv]:-?} cpu=${R_CPU[$srv]}s cpu/query=${R_CPUQ[$srv]:-?}us"
done

# ---- the report
{
  echo "Command: \`$cmdline\`"
  echo
  echo "Load: \`taskset -c $CLIENT_CPU dnsperf ${perf_args[*]//$work\/data\//} -p PORT\` against each server in turn," \
       "server under \`taskset -c $SERVER_CPU\`, one worker each; warm-up ${warmup} s (not counted)."
  echo "Zone: $origin, $names owner names + MX targets (A, AAAA, CNAME, MX, TXT); queries: $(wc -l < "$queries") lines," \
       "$(grep -c '^nx' "$queries") NXDOMAIN. CPU/query = (utime+stime of the server's processes during the run) / completed."
  echo
  echo "| server | version | completed | lost | queries/s | avg latency (ms) | server CPU (s) | CPU/query (µs) | CPU/query vs pharosd | same answers | response codes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
  base=${R_CPUQ[pharosd]:-}
  for srv in $servers; do
    if [ -n "${R_NOTE[$srv]}" ] && [ -z "${R_DONE[$srv]:-}" ]; then
      echo "| $srv | ${R_VER[$srv]:-} | — | — | — | — | — | — | — | — | ${R_NOTE[$srv]} |"
      continue
    fi
    ratio="—"
    if [ -n "$base" ] && [ -n "${R_CPUQ[$srv]:-}" ]; then
      ratio=$(awk -v a="${R_CPUQ[$srv]}" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else print "—"}')
    fi
    note=${R_RCODES[$srv]:-}
    [ -n "${R_NOTE[$srv]}" ] && note="$note; ${R_NOTE[$srv]}"
    echo "| $srv | ${R_VER[$srv]} | ${R_DONE[$srv]:-?} | ${R_LOST[$srv]:-?} | ${R_QPS[$srv]:-?} | ${R_LAT[$srv]:-?} | ${R_CPU[$srv]:-?} | ${R_CPUQ[$srv]:-?} | $ratio | ${R_MATCH[$srv]:-—} | $note |"
  done
  echo
  echo "\"CPU/query vs pharosd\" is the server's CPU/query divided by pharosd's: above 1× the server spends more CPU per query than pharosd."
  if [ -n "$base" ]; then
    slower=""
    for srv in $servers; do
      [ "$srv" = pharosd ] || [ -z "${R_CPUQ[$srv]:-}" ] && continue
      awk -v a="${R_CPUQ[$srv]}" -v b="$base" 'BEGIN {exit !(a <= b)}' && slower="$slower $srv (${R_CPUQ[$srv]} µs)"
    done
    echo
    if [ -z "$slower" ]; then echo "Target (pharosd CPU/query lower than every other server): **met**."
    else echo "Target (pharosd CPU/query lower than every other server): **missed**; pharosd ${base} µs, not lower than:$slower."; fi
  fi
} | tee ${outfile:+"$outfile"}
