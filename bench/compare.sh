#!/usr/bin/env bash
# compare.sh: the same zone and the same queries against pharosd, Knot, NSD and gdnsd, one at a time,
# each server with one worker pinned to CPU 0 and dnsperf pinned to CPU 1; reports completed
# queries, queries/s, lost queries and the server's CPU time per query. See bench/README.md.
#
#   bench/compare.sh [-l SECONDS] [-R REPEATS] [-c CLIENTS] [-q OUTSTANDING] [-Q MAXQPS]
#                    [-w WARMUP_SECONDS] [-n NAMES] [-s "pharosd knot nsd gdnsd"] [-p BASEPORT]
#                    [-o OUT.md] [-e] [-k]
#
#   -l  seconds of load per server and run (10)        -R  runs of the whole round (1); the table
#   -c  dnsperf clients (1)                                shows each server's median run
#   -q  outstanding queries (100)                      -Q  cap on queries/s (default: none)
#   -w  warm-up seconds before measuring (1)           -n  owner names in the zone (10000)
#   -s  servers, in this order (all four)              -p  first port (15300, +1 per server)
#   -o  also write the markdown report to OUT.md       -e  send EDNS0 (dnsperf -e, dig +edns)
#   -k  keep the work directory (configs, logs, zone, dnsperf output)
#
# Environment: PHAROSD (default build/release/app/pharosd), PHAROSD_VERSION (label; default the
# repository HEAD), SERVER_CPU (0), CLIENT_CPU (1).
# Needs: scripts/install-deps.sh --bench. Loopback only; every loop is bounded; not run by CI.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

cmdline="bench/compare.sh $*"
duration=10 repeats=1 clients=1 outstanding=100 maxqps="" warmup=1 names=10000 servers=$ALL_SERVERS
baseport=15300 outfile="" edns=0 keep=0
while getopts "l:R:c:q:Q:w:n:s:p:o:ek" opt; do
  case "$opt" in
    l) duration=$OPTARG ;; R) repeats=$OPTARG ;; c) clients=$OPTARG ;; q) outstanding=$OPTARG ;;
    Q) maxqps=$OPTARG ;; w) warmup=$OPTARG ;; n) names=$OPTARG ;; s) servers=$OPTARG ;;
    p) baseport=$OPTARG ;; o) outfile=$OPTARG ;; e) edns=1 ;; k) keep=1 ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
for v in duration repeats clients outstanding warmup names baseport; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "compare.sh: $v must be a whole number" >&2; exit 2; }
done
[ -z "$maxqps" ] || [[ $maxqps =~ ^[0-9]+$ ]] || { echo "compare.sh: -Q must be a number" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || { echo "compare.sh: -l must be 1..600" >&2; exit 2; }
[ "$repeats" -ge 1 ] && [ "$repeats" -le 20 ] || { echo "compare.sh: -R must be 1..20" >&2; exit 2; }
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

# Results, keyed "server,run".
declare -A R_DONE R_QPS R_LOST R_LAT R_CPU R_CPUQ R_RCODES R_USRQ R_SYSQ
declare -A NOTE MATCH VER PORT
ref_sig="" ref_name=""

# run_one SERVER RUN: start, (first run: check answers), warm up, measure, stop.
run_one() {
  local srv=$1 run=$2 port=${PORT[$1]} key="$1,$2" u0 s0 u1 s1 rc alive ticks out dir
  srv_setup "$srv" "$work/run$run" "$port" "$origin" "$zonefile" || { NOTE[$srv]="setup failed"; return; }
  dir=$SRV_DIR
  srv_start "$srv"
  local probe_name probe_type
  read -r probe_name probe_type < "$samples"
  if ! srv_wait_answer "$port" "$probe_name" "$probe_type" 60 >/dev/null || ! srv_alive; then
    bench_log "$srv: did not start or does not answer; its log:"
    srv_logs >&2
    srv_stop
    NOTE[$srv]="did not start (run $run; log in the output)"; return
  fi

  if [ -z "${MATCH[$srv]:-}" ]; then
    # Same work check: every sample query must get the same response as from the first server.
    signature "$port" > "$dir/signature.txt"
    if [ -z "$ref_name" ]; then
      ref_name=$srv ref_sig=$dir/signature.txt
      MATCH[$srv]="reference"
      bench_log "$srv: sample responses (the reference for the others):"
      sed 's/^/    /' "$ref_sig" >&2
    elif diff -q "$ref_sig" "$dir/signature.txt" >/dev/null; then
      MATCH[$srv]="yes"
    else
      MATCH[$srv]="**no**"
      bench_log "$srv: responses differ from $ref_name (< $ref_name, > $srv):"
      diff "$ref_sig" "$dir/signature.txt" | sed 's/^/    /' >&2
    fi
  fi

  if [ "$warmup" -gt 0 ]; then
    taskset -c "$CLIENT_CPU" timeout $((warmup + 30)) dnsperf "${perf_args[@]}" -p "$port" -l "$warmup" \
      > "$dir/warmup.txt" 2>&1
  fi
  read -r u0 s0 < <(tree_cpu_split "$SRV_PID")
  taskset -c "$CLIENT_CPU" timeout $((duration + 60)) dnsperf "${perf_args[@]}" -p "$port" \
    > "$dir/dnsperf.txt" 2>&1
  rc=$?
  read -r u1 s1 < <(tree_cpu_split "$SRV_PID")
  alive=1; srv_alive || alive=0
  srv_stop
  if [ "$alive" -eq 0 ]; then
    bench_log "$srv: died during run $run; its log:"
    srv_logs >&2
    NOTE[$srv]="died during run $run"
  fi
  [ "$rc" -eq 0 ] || { bench_log "$srv: dnsperf exit $rc"; cat "$dir/dnsperf.txt" >&2; }

  out=$dir/dnsperf.txt
  R_DONE[$key]=$(awk '/Queries completed:/ {print $3}' "$out")
  R_LOST[$key]=$(awk '/Queries lost:/ {print $3}' "$out")
  R_QPS[$key]=$(awk '/Queries per second:/ {printf "%.0f", $4}' "$out")
  R_LAT[$key]=$(awk '/Average Latency/ {printf "%.3f", $4 * 1000}' "$out")
  R_RCODES[$key]=$(sed -n 's/^ *Response codes: *//p' "$out" | sed 's/ ([0-9.]*%)//g')
  ticks=$((u1 - u0 + s1 - s0))
  R_CPU[$key]=$(awk -v t="$ticks" -v h="$CLK_TCK" 'BEGIN {printf "%.2f", t / h}')
  if [ -n "${R_DONE[$key]}" ] && [ "${R_DONE[$key]}" -gt 0 ]; then
    R_CPUQ[$key]=$(awk -v t="$ticks" -v h="$CLK_TCK" -v n="${R_DONE[$key]}" 'BEGIN {printf "%.3f", t / h * 1e6 / n}')
    R_USRQ[$key]=$(awk -v t="$((u1 - u0))" -v h="$CLK_TCK" -v n="${R_DONE[$key]}" 'BEGIN {printf "%.2f", t / h * 1e6 / n}')
    R_SYSQ[$key]=$(awk -v t="$((s1 - s0))" -v h="$CLK_TCK" -v n="${R_DONE[$key]}" 'BEGIN {printf "%.2f", t / h * 1e6 / n}')
  else
    R_CPUQ[$key]=""
    bench_log "$srv: no completed queries"; cat "$out" >&2
  fi
  bench_log "$srv run $run: completed=${R_DONE[$key]:-?} qps=${R_QPS[$key]:-?} lost=${R_LOST[$key]:-?} cpu=${R_CPU[$key]}s cpu/query=${R_CPUQ[$key]:-?}us"
}

port=$baseport
for srv in $servers; do
  port=$((port + 1)) PORT[$srv]=$port NOTE[$srv]=""
  if ! srv_available "$srv"; then
    bench_log "$srv: not installed / not built; skipped"; NOTE[$srv]="not available"; continue
  fi
  VER[$srv]=$(srv_version "$srv")
done
for ((run = 1; run <= repeats; run++)); do
  for srv in $servers; do
    [ -n "${NOTE[$srv]}" ] && continue
    if ! port_free "${PORT[$srv]}"; then
      bench_log "$srv: port ${PORT[$srv]} already in use; skipped"; NOTE[$srv]="port ${PORT[$srv]} busy"; continue
    fi
    run_one "$srv" "$run"
  done
done

# MEDRUN[srv]: the run with the median CPU/query (the lower middle one for an even count).
declare -A MEDRUN ALLCPUQ
for srv in $servers; do
  list=""
  for ((run = 1; run <= repeats; run++)); do
    [ -n "${R_CPUQ[$srv,$run]:-}" ] && list="$list${R_CPUQ[$srv,$run]} $run"$'\n'
  done
  [ -n "$list" ] || continue
  n=$(grep -c . <<<"$list")
  MEDRUN[$srv]=$(sort -g <<<"$list" | grep . | sed -n "$(((n + 1) / 2))p" | cut -d' ' -f2)
  ALLCPUQ[$srv]=$(grep . <<<"$list" | cut -d' ' -f1 | paste -sd ' ')
done

# ---- the report
{
  echo "Command: \`$cmdline\`"
  echo
  echo "Load: \`taskset -c $CLIENT_CPU dnsperf ${perf_args[*]//$work\/data\//} -p PORT\` against each server in turn," \
       "server under \`taskset -c $SERVER_CPU\`, one worker each; ${warmup} s warm-up (not counted); $repeats run(s) per server, interleaved" \
       "$([ "$repeats" -gt 1 ] && echo "(the row is each server's median run by CPU/query)")."
  echo "Zone: $origin, $names owner names (A, AAAA, CNAME, MX, TXT); queries: $(wc -l < "$queries") lines," \
       "$(grep -c '^nx' "$queries") NXDOMAIN. CPU/query = (utime+stime of the server's processes during the run) / completed."
  echo
  echo "| server | version | completed | lost | queries/s | avg latency (ms) | server CPU (s) | CPU/query (µs) | user + sys (µs) | CPU/query vs pharosd | same answers | response codes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
  base=""
  [ -n "${MEDRUN[pharosd]:-}" ] && base=${R_CPUQ[pharosd,${MEDRUN[pharosd]}]}
  for srv in $servers; do
    m=${MEDRUN[$srv]:-}
    if [ -z "$m" ]; then
      echo "| $srv | ${VER[$srv]:-} | — | — | — | — | — | — | — | — | ${MATCH[$srv]:-—} | ${NOTE[$srv]:-no result} |"
      continue
    fi
    k="$srv,$m"
    ratio="—"
    [ -n "$base" ] && ratio=$(awk -v a="${R_CPUQ[$k]}" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else print "—"}')
    note=${R_RCODES[$k]:-}
    [ -n "${NOTE[$srv]}" ] && note="$note; ${NOTE[$srv]}"
    echo "| $srv | ${VER[$srv]} | ${R_DONE[$k]:-?} | ${R_LOST[$k]:-?} | ${R_QPS[$k]:-?} | ${R_LAT[$k]:-?} | ${R_CPU[$k]:-?} | ${R_CPUQ[$k]:-?} | ${R_USRQ[$k]:-?} + ${R_SYSQ[$k]:-?} | $ratio | ${MATCH[$srv]:-—} | $note |"
  done
  echo
  echo "\"user + sys\" splits CPU/query into the server's own code (utime) and the kernel working for it (stime: system calls, and on loopback also delivering each reply into the client's socket and waking the client)." \
       "\"CPU/query vs pharosd\" is the server's CPU/query divided by pharosd's: above 1× the server spends more CPU per query than pharosd."
  if [ "$repeats" -gt 1 ]; then
    echo
    echo "CPU/query of every run (µs), in run order:"
    for srv in $servers; do [ -n "${ALLCPUQ[$srv]:-}" ] && echo "- $srv: ${ALLCPUQ[$srv]}"; done
  fi
  if [ -n "$base" ]; then
    slower=""
    for srv in $servers; do
      [ "$srv" = pharosd ] || [ -z "${MEDRUN[$srv]:-}" ] && continue
      c=${R_CPUQ[$srv,${MEDRUN[$srv]}]}
      awk -v a="$c" -v b="$base" 'BEGIN {exit !(a <= b)}' && slower="$slower $srv ($c µs)"
    done
    echo
    if [ -z "$slower" ]; then echo "Target (pharosd CPU/query lower than every other server): **met**."
    else echo "Target (pharosd CPU/query lower than every other server): **missed**; pharosd ${base} µs, not lower than:$slower."; fi
  fi
} | tee ${outfile:+"$outfile"}
