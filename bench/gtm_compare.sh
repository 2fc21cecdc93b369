#!/usr/bin/env bash
# gtm_compare.sh: server CPU per query for health-driven (GTM) names: pharosd (scenario file, TCP
# checks), gdnsd (metafo over three monitored DCs, tcp_connect) and PowerDNS (bind backend, LUA
# records with ifportup; once with its caches off, once with its default caches) serve the same
# names, in the same run, measured like bench/compare.sh. See bench/README.md, "GTM benchmarks".
#
#   bench/gtm_compare.sh [-l SECONDS] [-R REPEATS] [-n NAMES] [-Q MAXQPS] [-w WARMUP]
#                        [-s "pharosd gdnsd pdns pdns-cache"] [-p BASEPORT] [-P CHECKPORT]
#                        [-o OUT.md] [-k]
#
#   -l  seconds of load per server and run (10)   -R  runs of the whole round (3; median shown)
#   -n  GTM names g0..gN-1.gtm.test (1000)        -Q  cap on queries/s (default: none)
#   -w  warm-up seconds (1)                       -s  servers, in this order
#   -p  first DNS port (15500; +1 per server)     -P  the health-checked TCP port (18080)
#   -o  also write the markdown report to OUT.md  -k  keep the work directory
#
# Every name has a three-DC chain: 127.0.0.11 (dc1), .12 (dc2), .13 (dc3); each DC is up while
# something accepts TCP connections on its address at CHECKPORT (python3 -m http.server, started
# and stopped by this script). Before measuring, each server must answer dc1 for the first and
# last name, then dc2 once dc1's listener is stopped, then dc1 again once it is back: all of
# them really give health-driven answers. Loopback only; every wait is bounded; not run by CI.
# Environment: PHAROSD (default build/release/app/pharosd), SERVER_CPU (0), CLIENT_CPU (1).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

cmdline="bench/gtm_compare.sh $*"
duration=10 repeats=3 names=1000 maxqps="" warmup=1 servers="pharosd gdnsd pdns pdns-cache"
baseport=15500 checkport=18080 outfile="" keep=0
while getopts "l:R:n:Q:w:s:p:P:o:k" opt; do
  case "$opt" in
    l) duration=$OPTARG ;; R) repeats=$OPTARG ;; n) names=$OPTARG ;; Q) maxqps=$OPTARG ;;
    w) warmup=$OPTARG ;; s) servers=$OPTARG ;; p) baseport=$OPTARG ;; P) checkport=$OPTARG ;;
    o) outfile=$OPTARG ;; k) keep=1 ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done
for v in duration repeats names warmup baseport checkport; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "gtm_compare.sh: $v must be a whole number" >&2; exit 2; }
done
[ -z "$maxqps" ] || [[ $maxqps =~ ^[0-9]+$ ]] || { echo "gtm_compare.sh: -Q must be a number" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || { echo "gtm_compare.sh: -l must be 1..600" >&2; exit 2; }
[ "$repeats" -ge 1 ] && [ "$repeats" -le 20 ] || { echo "gtm_compare.sh: -R must be 1..20" >&2; exit 2; }
[ "$names" -ge 1 ] && [ "$names" -le 100000 ] || { echo "gtm_compare.sh: -n must be 1..100000" >&2; exit 2; }
for t in dnsperf dig taskset python3 ss; do
  command -v "$t" >/dev/null || { echo "gtm_compare.sh: $t missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pharos-gtmcompare.XXXXXX)
declare -A TPID
cleanup() {
  srv_stop
  local k
  for k in "${!TPID[@]}"; do target_stop "$k"; done
  if [ "$keep" -eq 1 ]; then bench_log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$BENCH_DIR/gen_gtm.py" compare --out "$work" --names "$names" --check-port "$checkport" \
  --dns-port $((baseport + 1)) || exit 1
queries=$work/queries.txt
first=g0.gtm.test last=g$((names - 1)).gtm.test
declare -A PORT=([pharosd]=$((baseport + 1)) [gdnsd]=$((baseport + 2)) [pdns]=$((baseport + 3)) [pdns-cache]=$((baseport + 4)))

# ---- health targets: one TCP listener per DC address, pinned to the client's CPU
# The listener lives at most as long as this script could (bounded by timeout).
budget=$(( (repeats * 4 * (duration + warmup + 120)) + 600 ))
target_start() {
  local k=$1 i
  taskset -c "$CLIENT_CPU" timeout "$budget" python3 -m http.server --bind "127.0.0.1$k" "$checkport" \
    > "$work/target$k.log" 2>&1 < /dev/null &
  TPID[$k]=$!
  for ((i = 0; i < 100; i++)); do
    ss -Hltn "src 127.0.0.1$k:$checkport" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  bench_log "target 127.0.0.1$k:$checkport did not start"; return 1
}
target_stop() {
  local k=$1
  [ -n "${TPID[$k]:-}" ] || return 0
  kill "${TPID[$k]}" 2>/dev/null
  wait "${TPID[$k]}" 2>/dev/null
  unset "TPID[$k]"
}

srv_cmd() {
  case "$1" in
    pharosd)    SRV_CMD=("$PHAROSD" -c "$work/pharosd/pharos.json") ;;
    gdnsd)      SRV_CMD=(gdnsd -c "$work/gdnsd/etc" start) ;;
    pdns)       SRV_CMD=(pdns_server --config-dir="$work/pdns") ;;
    pdns-cache) SRV_CMD=(pdns_server --config-dir="$work/pdns-cache") ;;
    *) return 1 ;;
  esac
}
srv_exists() {
  case "$1" in
    pharosd) [ -x "$PHAROSD" ] ;;
    gdnsd) command -v gdnsd >/dev/null ;;
    pdns|pdns-cache) command -v pdns_server >/dev/null && [ -e /usr/lib/x86_64-linux-gnu/pdns/libbindbackend.so ] ;;
    *) return 1 ;;
  esac
}
version_of() {
  case "$1" in
    pharosd) echo "pharosd ${PHAROSD_VERSION:-$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo "?")}" ;;
    gdnsd) srv_version gdnsd ;;
    pdns|pdns-cache) pdns_server --version 2>&1 | sed -n 's/.*\(PowerDNS Authoritative Server [0-9.]*\).*/\1/p' | head -1 | sed 's/Authoritative Server/Auth/' ;;
  esac
}

# answer PORT NAME: the A records of the answer, space-separated, sorted.
answer() {
  dig @127.0.0.1 -p "$1" +norec +noedns +nocookie +tries=1 +time=1 +short "$2" A 2>/dev/null | sort | paste -sd' '
}
# wait_for PORT NAME EXPECT TIMEOUT_S: polls every 50 ms; prints the seconds it took, or fails.
wait_for() {
  local port=$1 name=$2 expect=$3 limit=$4 t0 now got
  t0=$(date +%s%N)
  while :; do
    got=$(answer "$port" "$name")
    now=$(date +%s%N)
    if [ "$got" = "$expect" ]; then awk -v n=$((now - t0)) 'BEGIN {printf "%.2f", n / 1e9}'; return 0; fi
    [ $((now - t0)) -ge $((limit * 1000000000)) ] && { echo "timeout ($got)"; return 1; }
    sleep 0.05
  done
}
# One line with status, flags and the answer section of NAME, for the report.
describe() {
  local out
  out=$(dig @127.0.0.1 -p "$1" +norec +noedns +nocookie +tries=1 +time=2 +noall +comments +answer "$2" A 2>&1)
  printf '%s, flags %s: %s' "$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")" \
    "$(sed -n 's/^;; flags: \([^;]*\);.*/\1/p' <<<"$out")" \
    "$(grep -v '^;' <<<"$out" | grep . | awk '{print $1, $2, $4, $5}' | paste -sd'&')"
}

perf_args=(-s 127.0.0.1 -d "$queries" -l "$duration" -c 1 -q 100)
[ -n "$maxqps" ] && perf_args+=(-Q "$maxqps")

declare -A R_DONE R_QPS R_LOST R_LAT R_CPU R_CPUQ R_USRQ R_SYSQ R_RCODES NOTE CHECKED FAILOVER FAILBACK VER SAMPLE
for k in 1 2 3; do target_start "$k" || exit 1; done

# check_health SERVER: dc1 for the first and last name; dc2 with dc1's target stopped; dc1 again.
check_health() {
  local srv=$1 port=${PORT[$1]} t limit=30
  [ "$srv" = pdns-cache ] && limit=90   # cached answers live up to their TTL (30 s) and the cache's own
  if ! t=$(wait_for "$port" "$first" 127.0.0.11 30); then CHECKED[$srv]="**no**: never answered dc1 ($t)"; return 1; fi
  # A cache may hold an answer given before the first check results (PowerDNS answers a random
  # address then): wait for it to expire.
  if ! t=$(wait_for "$port" "$last" 127.0.0.11 "$limit"); then CHECKED[$srv]="**no**: $last is not dc1 ($t)"; return 1; fi
  SAMPLE[$srv]=$(describe "$port" "$first")
  target_stop 1
  if ! t=$(wait_for "$port" "$first" 127.0.0.12 "$limit"); then
    CHECKED[$srv]="**no**: dc1 off, still $t"; target_start 1; return 1
  fi
  FAILOVER[$srv]=$t
  local last_now; last_now=$(answer "$port" "$last")
  target_start 1 || return 1
  if ! t=$(wait_for "$port" "$first" 127.0.0.11 "$limit"); then CHECKED[$srv]="**no**: dc1 back, still $t"; return 1; fi
  FAILBACK[$srv]=$t
  wait_for "$port" "$last" 127.0.0.11 "$limit" >/dev/null
  CHECKED[$srv]="yes (dc1 off: $last → $last_now)"
  return 0
}

run_one() {
  local srv=$1 run=$2 port=${PORT[$1]} key="$1,$2" u0 s0 u1 s1 rc alive ticks out
  SRV_DIR=$work/$srv
  srv_cmd "$srv"
  srv_start "$srv"
  if ! wait_for "$port" "$first" 127.0.0.11 30 >/dev/null || ! srv_alive; then
    bench_log "$srv: did not start or never answered dc1; its log:"; srv_logs >&2; srv_stop
    NOTE[$srv]="did not start (run $run)"; return
  fi
  if [ -z "${CHECKED[$srv]:-}" ]; then
    check_health "$srv"
    bench_log "$srv: health-driven answers: ${CHECKED[$srv]}; failover ${FAILOVER[$srv]:-?} s, back ${FAILBACK[$srv]:-?} s"
  fi
  if [ "$warmup" -gt 0 ]; then
    taskset -c "$CLIENT_CPU" timeout $((warmup + 30)) dnsperf "${perf_args[@]}" -p "$port" -l "$warmup" > "$SRV_DIR/warmup.txt" 2>&1
  fi
  read -r u0 s0 < <(tree_cpu_split "$SRV_PID")
  taskset -c "$CLIENT_CPU" timeout $((duration + 60)) dnsperf "${perf_args[@]}" -p "$port" > "$SRV_DIR/dnsperf.txt" 2>&1
  rc=$?
  read -r u1 s1 < <(tree_cpu_split "$SRV_PID")
  # Still dc1 after the load: the load did not disturb the health checks.
  [ "$(answer "$port" "$first")" = 127.0.0.11 ] || NOTE[$srv]="not dc1 after run $run"
  alive=1; srv_alive || alive=0
  srv_stop
  [ "$alive" -eq 1 ] || { bench_log "$srv: died during run $run"; srv_logs >&2; NOTE[$srv]="died during run $run"; }
  [ "$rc" -eq 0 ] || { bench_log "$srv: dnsperf exit $rc"; cat "$SRV_DIR/dnsperf.txt" >&2; }
  out=$SRV_DIR/dnsperf.txt
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
    R_CPUQ[$key]=""; bench_log "$srv: no completed queries"; cat "$out" >&2
  fi
  bench_log "$srv run $run: completed=${R_DONE[$key]:-?} qps=${R_QPS[$key]:-?} lost=${R_LOST[$key]:-?} cpu=${R_CPU[$key]}s cpu/query=${R_CPUQ[$key]:-?}us load=$(cut -d' ' -f1-3 /proc/loadavg)"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg) t_start=$(date -u +%H:%M:%S)
for srv in $servers; do
  NOTE[$srv]=""
  srv_exists "$srv" || { bench_log "$srv: not installed / not built; skipped"; NOTE[$srv]="not available"; continue; }
  VER[$srv]=$(version_of "$srv")
done
for ((run = 1; run <= repeats; run++)); do
  for srv in $servers; do
    [ -n "${NOTE[$srv]}" ] && continue
    port_free "${PORT[$srv]}" || { bench_log "$srv: port ${PORT[$srv]} busy; skipped"; NOTE[$srv]="port busy"; continue; }
    run_one "$srv" "$run"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg) t_end=$(date -u +%H:%M:%S)

declare -A MEDRUN ALLCPUQ
for srv in $servers; do
  list=""
  for ((run = 1; run <= repeats; run++)); do
    [ -n "${R_CPUQ[$srv,$run]:-}" ] && list="$list${R_CPUQ[$srv,$run]} $run"$'\n'
  done
  [ -n "$list" ] || continue
  n=$(grep -c . <<<"$list")
  MEDRUN[$srv]=$(sort -g <<<"$list" | grep . | sed -n "$(((n + 1) / 2))p" | cut -d' ' -f2)
  ALLCPUQ[$srv]=$(grep . <<<"$list" | cut -d' ' -f1 | paste -sd' ')
done

{
  echo "Command: \`$cmdline\` ($t_start → $t_end UTC, load average $load_start → $load_end)"
  echo
  echo "Load: \`taskset -c $CLIENT_CPU dnsperf ${perf_args[*]//$work\//} -p PORT\` against each server in turn, server under" \
       "\`taskset -c $SERVER_CPU\`, one worker/thread each; ${warmup} s warm-up; $repeats run(s) per server, interleaved$([ "$repeats" -gt 1 ] && echo " (the row is each server's median run by CPU/query)")."
  echo "Names: $names GTM A records g0..g$((names - 1)).gtm.test, each a 3-DC chain (127.0.0.11/.12/.13, TCP check on port $checkport every 2 s);" \
       "queries: every name once per pass. CPU/query = (utime+stime of the server's process during the run) / completed."
  echo
  echo "| server | version | completed | lost | queries/s | avg latency (ms) | server CPU (s) | CPU/query (µs) | user + sys (µs) | CPU/query vs pharosd | health-driven answers | dc1 off → dc2 (s) | dc1 back (s) | response codes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"
  base=""
  [ -n "${MEDRUN[pharosd]:-}" ] && base=${R_CPUQ[pharosd,${MEDRUN[pharosd]}]}
  for srv in $servers; do
    m=${MEDRUN[$srv]:-}
    if [ -z "$m" ]; then
      echo "| $srv | ${VER[$srv]:-} | — | — | — | — | — | — | — | — | ${CHECKED[$srv]:-—} | — | — | ${NOTE[$srv]:-no result} |"; continue
    fi
    k="$srv,$m" ratio="—"
    [ -n "$base" ] && ratio=$(awk -v a="${R_CPUQ[$k]}" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else print "—"}')
    note=${R_RCODES[$k]:-}
    [ -n "${NOTE[$srv]}" ] && note="$note; ${NOTE[$srv]}"
    echo "| $srv | ${VER[$srv]} | ${R_DONE[$k]:-?} | ${R_LOST[$k]:-?} | ${R_QPS[$k]:-?} | ${R_LAT[$k]:-?} | ${R_CPU[$k]:-?} | ${R_CPUQ[$k]:-?} | ${R_USRQ[$k]:-?} + ${R_SYSQ[$k]:-?} | $ratio | ${CHECKED[$srv]:-—} | ${FAILOVER[$srv]:-—} | ${FAILBACK[$srv]:-—} | $note |"
  done
  echo
  echo "\"health-driven answers\": before its first run each server answered dc1 (127.0.0.11) for $first and $last, then dc2 (127.0.0.12) for $first once dc1's listener was stopped" \
       "(\"dc1 off → dc2\": seconds until it did, polling every 50 ms; it includes each server's check interval of 2 s), then dc1 again once it was back."
  echo
  echo "The answer each server gave for $first before the runs (status, flags: owner TTL type rdata):"
  for srv in $servers; do [ -n "${SAMPLE[$srv]:-}" ] && echo "- $srv: ${SAMPLE[$srv]}"; done
  if [ "$repeats" -gt 1 ]; then
    echo
    echo "CPU/query of every run (µs), in run order:"
    for srv in $servers; do [ -n "${ALLCPUQ[$srv]:-}" ] && echo "- $srv: ${ALLCPUQ[$srv]}"; done
  fi
} | tee ${outfile:+"$outfile"}
