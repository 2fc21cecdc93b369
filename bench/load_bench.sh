#!/usr/bin/env bash
# load_bench.sh: how long pharosd, Knot, NSD and gdnsd take to load a big zone and how much memory
# they hold afterwards. See bench/README.md.
#
#   bench/load_bench.sh [-r RECORDS] [-R REPEATS] [-v "a mixed"] [-s "pharosd knot nsd gdnsd"]
#                       [-p BASEPORT] [-t TIMEOUT] [-o OUT.md] [-k]
#
#   -r  records in the zone (default 1000000)     -v  zone variants: a (only A), mixed (default both)
#   -R  runs per server and zone (default 1; the table shows the fastest run)
#   -s  servers, in order (default all four)      -p  first port (default 15400, +1 per server)
#   -t  seconds a server may take to load (600)   -o  also write the markdown report to OUT.md
#   -k  keep the work directory
#
# For each server and zone: (1) its "load and exit" check (pharosd --check, knotc zone-check,
# nsd-checkzone, gdnsd checkconf), wall time and peak RSS from /usr/bin/time; (2) the server started
# under taskset -c $SERVER_CPU with one worker, timed from exec until it answers the zone's last
# record with NOERROR+AA (bench/dnsprobe.py, started beforehand, polls every 10 ms); (3) VmRSS, VmHWM and Pss of its
# processes 2 s after that first answer; also the server's CPU time (utime+stime) until the answer.
# Environment: PHAROSD (default build/release/app/pharosd), SERVER_CPU (0). Loopback only; not run by CI.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

cmdline="bench/load_bench.sh $*"
records=1000000 variants="a mixed" servers=$ALL_SERVERS baseport=15400 timeout_s=600 outfile="" keep=0
repeats=1
while getopts "r:R:v:s:p:t:o:k" opt; do
  case "$opt" in
    r) records=$OPTARG ;; R) repeats=$OPTARG ;; v) variants=$OPTARG ;; s) servers=$OPTARG ;; p) baseport=$OPTARG ;;
    t) timeout_s=$OPTARG ;; o) outfile=$OPTARG ;; k) keep=1 ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
for v in records repeats baseport timeout_s; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "load_bench.sh: $v must be a whole number" >&2; exit 2; }
done
for t in taskset python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "load_bench.sh: $t missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pharos-load.XXXXXX)
cleanup() {
  srv_stop
  if [ "$keep" -eq 1 ]; then bench_log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
secs() { awk -v n="$1" 'BEGIN {printf "%.2f", n / 1e9}'; }

# load_one SERVER VARIANT RUN: check command, then start until the last record answers, then memory.
# Sets L_* for "server,variant,run".
declare -A L_CHECK L_NS L_CPU L_RSS L_HWM L_PSS L_NPROC L_ANSWER NOTE
load_one() {
  local srv=$1 variant=$2 run=$3 key="$1,$2,$3" port=${PORT[$1]} crc check_s check_kb t0 t1 c1
  local rss hwm pss nproc run_cmd check_cmd
  srv_setup "$srv" "$work/run$run-$variant" "$port" "$origin" "$zonefile" || { NOTE[$srv]="setup failed"; return; }
  run_cmd=("${SRV_CMD[@]}")

  # (1) the check command
  srv_check_cmd "$srv"
  check_cmd=("${SRV_CMD[@]}")
  bench_log "$srv/$variant run $run: check: ${check_cmd[*]}"
  /usr/bin/time -f '%e %M' -o "$SRV_DIR/check.time" timeout "$timeout_s" \
    taskset -c "$SERVER_CPU" "${check_cmd[@]}" > "$SRV_DIR/check.log" 2>&1
  crc=$?
  read -r check_s check_kb < <(tail -1 "$SRV_DIR/check.time")
  L_CHECK[$key]="$check_s s, $(mib "${check_kb:-0}") MiB"
  if [ "$crc" -ne 0 ]; then
    L_CHECK[$key]="failed (exit $crc)"
    bench_log "$srv/$variant: check failed:"; tail -n 20 "$SRV_DIR/check.log" >&2
  fi

  # (2) start until the last record answers
  # The probe starts first (python's own start-up is not the server's), polls every 10 ms and is
  # ended by its PID if the server dies.
  SRV_CMD=("${run_cmd[@]}")
  python3 "$BENCH_DIR/dnsprobe.py" --port "$port" --name "$probe_name" --type "$probe_type" \
    --timeout "$timeout_s" --interval 0.01 > "$SRV_DIR/probe.out" 2> "$SRV_DIR/probe.err" &
  local probe_pid=$!
  sleep 0.5
  t0=$(date +%s%N)
  srv_start "$srv"
  while kill -0 "$probe_pid" 2>/dev/null; do
    srv_alive || { kill "$probe_pid" 2>/dev/null; break; }
    sleep 0.01
  done
  wait "$probe_pid" 2>/dev/null
  t1=$(cat "$SRV_DIR/probe.out")
  c1=$(tree_cpu_ticks "$SRV_PID")
  if [ -z "$t1" ] || ! srv_alive; then
    bench_log "$srv/$variant: no answer for $probe_name $probe_type; its log:"
    srv_logs >&2
    srv_stop
    NOTE[$srv]="did not answer the $variant zone (run $run; log in the output)"
    return
  fi
  L_NS[$key]=$((t1 - t0))
  L_CPU[$key]=$(awk -v t="$c1" -v h="$CLK_TCK" 'BEGIN {printf "%.2f", t / h}')
  L_ANSWER[$key]=$(dig @127.0.0.1 -p "$port" +norec +noedns +short +tries=1 +time=2 "$probe_name" "$probe_type" 2>&1 | head -1)
  # (3) memory once the load has settled
  sleep 2
  read -r rss hwm pss nproc < <(tree_mem "$SRV_PID")
  L_RSS[$key]=$rss L_HWM[$key]=$hwm L_PSS[$key]=$pss L_NPROC[$key]=$nproc
  srv_stop
  bench_log "$srv/$variant run $run: answered after $(secs "${L_NS[$key]}") s, ${L_CPU[$key]} s CPU (${L_ANSWER[$key]}); RSS $(mib "$rss") MiB HWM $(mib "$hwm") MiB PSS $(mib "$pss") MiB"
}

declare -A PORT BEST ZSIZE PROBE
origin=big.test
port=$baseport
for srv in $servers; do
  port=$((port + 1)) PORT[$srv]=$port NOTE[$srv]=""
  srv_available "$srv" || { bench_log "$srv: not installed / not built; skipped"; NOTE[$srv]="not available"; }
done
for variant in $variants; do
  data=$work/data-$variant
  python3 "$BENCH_DIR/gen_zone.py" big --out "$data" --origin "$origin" --records "$records" --kind "$variant" >&2 || exit 1
  zonefile=$data/$origin.zone
  read -r probe_name probe_type < "$data/probe.txt"
  PROBE[$variant]=$probe_type
  ZSIZE[$variant]=$(mib $(( $(stat -c %s "$zonefile") / 1024 )))
  for ((run = 1; run <= repeats; run++)); do
    for srv in $servers; do
      [ -n "${NOTE[$srv]}" ] && continue
      if ! port_free "${PORT[$srv]}"; then
        bench_log "$srv: port ${PORT[$srv]} busy; skipped"; NOTE[$srv]="port ${PORT[$srv]} busy"; continue
      fi
      load_one "$srv" "$variant" "$run"
    done
  done
  rm -rf "$data"
  # The fastest run by time to first answer: other work on the machine only ever adds time.
  for srv in $servers; do
    list=""
    for ((run = 1; run <= repeats; run++)); do
      [ -n "${L_NS[$srv,$variant,$run]:-}" ] && list="$list${L_NS[$srv,$variant,$run]} $run"$'\n'
    done
    [ -n "$list" ] || continue
    n=$(grep -c . <<<"$list")
    BEST[$srv,$variant]=$(sort -n <<<"$list" | grep . | head -1 | cut -d' ' -f2)
  done
done

# ---- the report
verdict() {  # verdict VARIANT: pharosd against the targets
  local v=$1 p k g
  [ -n "${BEST[pharosd,$v]:-}" ] || return 0
  p=${L_NS[pharosd,$v,${BEST[pharosd,$v]}]}
  if [ -n "${BEST[knot,$v]:-}" ]; then
    k=${L_NS[knot,$v,${BEST[knot,$v]}]}
    local pc=${L_CPU[pharosd,$v,${BEST[pharosd,$v]}]} kc=${L_CPU[knot,$v,${BEST[knot,$v]}]} cpu_word
    cpu_word=$(awk -v a="$pc" -v b="$kc" 'BEGIN {print (a < b) ? "less" : "not less"}')
    if [ "$p" -lt "$k" ]; then echo "- $v: load faster than Knot ($(secs "$p") s < $(secs "$k") s): **met**; CPU time $pc s, $cpu_word than Knot's $kc s"
    else echo "- $v: load faster than Knot ($(secs "$p") s vs $(secs "$k") s): **missed**; CPU time $pc s, $cpu_word than Knot's $kc s"; fi
  fi
  p=${L_RSS[pharosd,$v,${BEST[pharosd,$v]}]}
  if [ -n "${BEST[gdnsd,$v]:-}" ]; then
    g=${L_RSS[gdnsd,$v,${BEST[gdnsd,$v]}]}
    if [ "$p" -lt "$g" ]; then echo "- $v: RSS lower than gdnsd ($(mib "$p") MiB < $(mib "$g") MiB): **met**"
    else echo "- $v: RSS lower than gdnsd ($(mib "$p") MiB vs $(mib "$g") MiB): **missed**"; fi
  fi
}
{
  echo "Command: \`$cmdline\`"
  echo
  echo "Zone \`$origin\`: SOA, 2 NS, 2 glue A and $records records \`hostNNNNNNN.$origin\`;" \
       "variant \`a\`: all A (${ZSIZE[a]:-?} MiB of text); \`mixed\`: A/AAAA/CNAME/MX/TXT in turn (${ZSIZE[mixed]:-?} MiB)." \
       "Servers pinned with \`taskset -c $SERVER_CPU\`, one worker each; $repeats run(s) each$([ "$repeats" -gt 1 ] && echo ", the row is the fastest run by time to first answer")."
  echo
  echo "| server | zone | check command (wall, peak RSS) | start → first answer (s) | CPU until then (s) | VmRSS (MiB) | VmHWM (MiB) | Pss (MiB) | processes | probe answer |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
  for v in $variants; do
    for srv in $servers; do
      m=${BEST[$srv,$v]:-}
      if [ -z "$m" ]; then
        echo "| $srv | $v | — | — | — | — | — | — | — | ${NOTE[$srv]:-no result} |"; continue
      fi
      k="$srv,$v,$m"
      echo "| $srv | $v | ${L_CHECK[$k]} | $(secs "${L_NS[$k]}") | ${L_CPU[$k]} | $(mib "${L_RSS[$k]}") | $(mib "${L_HWM[$k]}") | $(mib "${L_PSS[$k]}") | ${L_NPROC[$k]} | \`${PROBE[$v]}\` → ${L_ANSWER[$k]} |"
    done
  done
  if [ "$repeats" -gt 1 ]; then
    echo
    echo "Start → first answer of every run (s), in run order:"
    for v in $variants; do
      for srv in $servers; do
        all=""
        for ((run = 1; run <= repeats; run++)); do
          [ -n "${L_NS[$srv,$v,$run]:-}" ] && all="$all $(secs "${L_NS[$srv,$v,$run]}")"
        done
        [ -n "$all" ] && echo "- $srv/$v:$all"
      done
    done
  fi
  echo
  echo "Check commands: pharosd \`--check\`, Knot \`knotc zone-check\`, NSD \`nsd-checkzone\`, gdnsd \`checkconf\`." \
       "\"CPU until then\" is utime+stime of the server's processes when the first answer came (less sensitive to other load on the machine than the wall time)." \
       "VmRSS and Pss are summed over the server's processes, 2 s after the first answer (NSD forks: RSS counts shared pages once per process, Pss splits them); VmHWM is the largest process's peak."
  echo
  echo "Targets for pharosd:"
  for v in $variants; do verdict "$v"; done
} | tee ${outfile:+"$outfile"}
