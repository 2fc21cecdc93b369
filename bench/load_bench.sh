#!/usr/bin/env bash
# load_bench.sh: how long pharosd, Knot, NSD and gdnsd take to load a big zone and how much memory
# they hold afterwards. See bench/README.md.
#
#   bench/load_bench.sh [-r RECORDS] [-v "a mixed"] [-s "pharosd knot nsd gdnsd"] [-p BASEPORT]
#                       [-t TIMEOUT] [-o OUT.md] [-k]
#
#   -r  records in the zone (default 1000000)     -v  zone variants: a (only A), mixed (default both)
#   -s  servers, in order (default all four)      -p  first port (default 15400, +1 per server)
#   -t  seconds a server may take to load (600)   -o  also write the markdown report to OUT.md
#   -k  keep the work directory
#
# For each server and zone: (1) its "load and exit" check (pharosd --check, knotc zone-check,
# nsd-checkzone, gdnsd checkconf), wall time and peak RSS from /usr/bin/time; (2) the server started
# under taskset -c $SERVER_CPU with one worker, timed from exec until it answers the zone's last
# record with NOERROR+AA (bench/dnsprobe.py polls every 20 ms); (3) VmRSS, VmHWM and Pss of its
# processes 2 s after that first answer.
# Environment: PHAROSD (default build/release/app/pharosd), SERVER_CPU (0). Loopback only; not run by CI.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

cmdline="bench/load_bench.sh $*"
records=1000000 variants="a mixed" servers=$ALL_SERVERS baseport=15400 timeout_s=600 outfile="" keep=0
while getopts "r:v:s:p:t:o:k" opt; do
  case "$opt" in
    r) records=$OPTARG ;; v) variants=$OPTARG ;; s) servers=$OPTARG ;; p) baseport=$OPTARG ;;
    t) timeout_s=$OPTARG ;; o) outfile=$OPTARG ;; k) keep=1 ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
for v in records baseport timeout_s; do
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

rows=()
declare -A LOAD RSS
origin=big.test
for variant in $variants; do
  data=$work/data-$variant
  python3 "$BENCH_DIR/gen_zone.py" big --out "$data" --origin "$origin" --records "$records" --kind "$variant" >&2 || exit 1
  zonefile=$data/$origin.zone
  read -r probe_name probe_type < "$data/probe.txt"
  zsize=$(mib $(( $(stat -c %s "$zonefile") / 1024 )))
  port=$baseport
  for srv in $servers; do
    port=$((port + 1))
    if ! srv_available "$srv"; then
      rows+=("| $srv | $variant | — | — | — | — | — | — | not available |"); continue
    fi
    if ! port_free "$port"; then
      rows+=("| $srv | $variant | — | — | — | — | — | — | port $port busy |"); continue
    fi
    srv_setup "$srv" "$work" "$port" "$origin" "$zonefile" || { rows+=("| $srv | $variant | — | — | — | — | — | — | setup failed |"); continue; }
    run_cmd=("${SRV_CMD[@]}")

    # (1) the check command
    srv_check_cmd "$srv"
    check_cmd=("${SRV_CMD[@]}")
    bench_log "$srv/$variant: check: ${check_cmd[*]}"
    /usr/bin/time -f '%e %M' -o "$SRV_DIR/check.time" timeout "$timeout_s" \
      taskset -c "$SERVER_CPU" "${check_cmd[@]}" > "$SRV_DIR/check.log" 2>&1
    crc=$?
    read -r check_s check_kb < <(tail -1 "$SRV_DIR/check.time")
    check_col="$check_s s, $(mib "${check_kb:-0}") MiB"
    if [ "$crc" -ne 0 ]; then
      check_col="failed (exit $crc)"
      bench_log "$srv/$variant: check failed:"; tail -n 20 "$SRV_DIR/check.log" >&2
    fi

    # (2) start until the last record answers
    SRV_CMD=("${run_cmd[@]}")
    t0=$(date +%s%N)
    srv_start "$srv"
    t1=$(srv_wait_answer "$port" "$probe_name" "$probe_type" "$timeout_s")
    if [ -z "$t1" ] || ! srv_alive; then
      bench_log "$srv/$variant: no answer for $probe_name $probe_type; its log:"
      srv_logs >&2
      srv_stop
      rows+=("| $srv | $variant | $check_col | did not answer | — | — | — | — | log in the run's output |")
      continue
    fi
    load_ns=$((t1 - t0))
    answer=$(dig @127.0.0.1 -p "$port" +norec +noedns +short +tries=1 +time=2 "$probe_name" "$probe_type" 2>&1 | head -1)
    # (3) memory once the load has settled
    sleep 2
    read -r rss hwm pss nproc < <(tree_mem "$SRV_PID")
    srv_stop
    LOAD[$srv/$variant]=$load_ns RSS[$srv/$variant]=$rss
    bench_log "$srv/$variant: answered after $(secs "$load_ns") s ($answer); RSS $(mib "$rss") MiB HWM $(mib "$hwm") MiB PSS $(mib "$pss") MiB"
    rows+=("| $srv | $variant | $check_col | $(secs "$load_ns") | $(mib "$rss") | $(mib "$hwm") | $(mib "$pss") | $nproc | \`$probe_type\` → $answer |")
  done
done

# ---- the report
verdict() {  # verdict VARIANT: pharosd against the targets
  local v=$1 p k g
  p=${LOAD[pharosd/$v]:-} k=${LOAD[knot/$v]:-}
  if [ -n "$p" ] && [ -n "$k" ]; then
    if [ "$p" -lt "$k" ]; then echo "- $v: load faster than Knot ($(secs "$p") s < $(secs "$k") s): **met**"
    else echo "- $v: load faster than Knot ($(secs "$p") s vs $(secs "$k") s): **missed**"; fi
  fi
  p=${RSS[pharosd/$v]:-} g=${RSS[gdnsd/$v]:-}
  if [ -n "$p" ] && [ -n "$g" ]; then
    if [ "$p" -lt "$g" ]; then echo "- $v: RSS lower than gdnsd ($(mib "$p") MiB < $(mib "$g") MiB): **met**"
    else echo "- $v: RSS lower than gdnsd ($(mib "$p") MiB vs $(mib "$g") MiB): **missed**"; fi
  fi
}
{
  echo "Command: \`$cmdline\`"
  echo
  echo "Zone \`$origin\`: SOA, 2 NS, 2 glue A and $records records \`hostNNNNNNN.$origin\` ($zsize MiB of text for the last variant);" \
       "variant \`a\`: all A; \`mixed\`: A/AAAA/CNAME/MX/TXT in turn. Servers pinned with \`taskset -c $SERVER_CPU\`, one worker each."
  echo
  echo "| server | zone | check command (wall, peak RSS) | start → first answer (s) | VmRSS (MiB) | VmHWM (MiB) | Pss (MiB) | processes | probe answer |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Check commands: pharosd \`--check\`, Knot \`knotc zone-check\`, NSD \`nsd-checkzone\`, gdnsd \`checkconf\`." \
       "VmRSS and Pss are summed over the server's processes (NSD forks: RSS counts shared pages once per process, Pss splits them); VmHWM is the largest process's peak."
  echo
  echo "Targets for pharosd:"
  for v in $variants; do verdict "$v"; done
} | tee ${outfile:+"$outfile"}
