# servers.sh: shared by bench/compare.sh and bench/load_bench.sh (source it, do not run it).
# Sets up, starts, probes, measures and stops one DNS server at a time: pharosd, knot, nsd, gdnsd.
# Every server gets its own directory under the caller's work dir and listens on 127.0.0.1 only.
#
#   srv_setup NAME WORKDIR PORT ORIGIN ZONEFILE   writes NAME's config; sets SRV_DIR and SRV_CMD
#   srv_start NAME                                starts SRV_CMD pinned to $SERVER_CPU; sets SRV_PID
#   srv_wait_answer PORT QNAME QTYPE TIMEOUT      prints the epoch ns of the first good answer
#   srv_stop                                      stops SRV_PID (TERM, then KILL after 10 s)
#   tree_cpu_ticks PID / tree_mem PID             CPU ticks and memory of PID and its descendants
#   srv_check_cmd NAME                            sets SRV_CMD to NAME's "load and exit" check

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
REPO_DIR=${REPO_DIR:-$(cd "$BENCH_DIR/.." && pwd)}
PHAROSD=${PHAROSD:-$REPO_DIR/build/release/app/pharosd}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLK_TCK=$(getconf CLK_TCK)
ALL_SERVERS="pharosd knot nsd gdnsd"

SRV_PID=""
SRV_DIR=""
SRV_CMD=()
SRV_CONF=""

bench_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# fill TEMPLATE OUT: replaces @RUN@ @PORT@ @ORIGIN@ @ZONEFILE@ from the srv_setup arguments.
fill() {
  sed -e "s|@RUN@|$SRV_DIR|g" -e "s|@PORT@|$_port|g" -e "s|@ORIGIN@|$_origin|g" \
      -e "s|@ZONEFILE@|$_zonefile|g" "$1" > "$2"
}

srv_setup() {
  local name=$1 work=$2
  _port=$3 _origin=${4%.} _zonefile=$5
  SRV_DIR=$work/$name
  rm -rf "$SRV_DIR"
  mkdir -p "$SRV_DIR"
  case "$name" in
    pharosd)
      SRV_CONF=$SRV_DIR/pharosd.json
      fill "$BENCH_DIR/configs/pharosd.json" "$SRV_CONF"
      SRV_CMD=("$PHAROSD" -c "$SRV_CONF") ;;
    knot)
      SRV_CONF=$SRV_DIR/knot.conf
      mkdir -p "$SRV_DIR/db"
      fill "$BENCH_DIR/configs/knot.conf" "$SRV_CONF"
      SRV_CMD=(knotd -c "$SRV_CONF") ;;
    nsd)
      SRV_CONF=$SRV_DIR/nsd.conf
      fill "$BENCH_DIR/configs/nsd.conf" "$SRV_CONF"
      SRV_CMD=(nsd -d -c "$SRV_CONF") ;;
    gdnsd)
      SRV_CONF=$SRV_DIR/etc
      mkdir -p "$SRV_CONF/zones" "$SRV_DIR/run" "$SRV_DIR/state"
      fill "$BENCH_DIR/configs/gdnsd.config" "$SRV_CONF/config"
      ln -s "$_zonefile" "$SRV_CONF/zones/$_origin"
      SRV_CMD=(gdnsd -c "$SRV_CONF" start) ;;
    *) echo "servers.sh: unknown server $name" >&2; return 2 ;;
  esac
}

# The command that loads the configuration and zone the way the server would, then exits.
srv_check_cmd() {
  case "$1" in
    pharosd) SRV_CMD=("$PHAROSD" --check -c "$SRV_CONF") ;;
    knot)    SRV_CMD=(knotc -c "$SRV_CONF" zone-check "$_origin") ;;
    nsd)     SRV_CMD=(nsd-checkzone "$_origin" "$_zonefile") ;;
    gdnsd)   SRV_CMD=(gdnsd -c "$SRV_CONF" checkconf) ;;
  esac
}

srv_version() {
  case "$1" in
    pharosd) echo "pharosd ${PHAROSD_VERSION:-$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo "?")}" ;;
    knot)    knotd --version 2>&1 | head -1 | sed 's/.*version /Knot /' ;;
    nsd)     nsd -v 2>&1 | head -1 | sed 's/.*version /NSD /' ;;
    gdnsd)   gdnsd -h 2>&1 | sed -n 's/^gdnsd version /gdnsd /p' | head -1 ;;
  esac
}

srv_available() {
  case "$1" in
    pharosd) [ -x "$PHAROSD" ] ;;
    knot)    command -v knotd >/dev/null ;;
    nsd)     command -v nsd >/dev/null ;;
    gdnsd)   command -v gdnsd >/dev/null ;;
    *)       return 1 ;;
  esac
}

srv_start() {
  local name=$1
  taskset -c "$SERVER_CPU" "${SRV_CMD[@]}" > "$SRV_DIR/stdout.log" 2>&1 < /dev/null &
  SRV_PID=$!
  bench_log "$name: started pid $SRV_PID: taskset -c $SERVER_CPU ${SRV_CMD[*]}"
}

srv_alive() { [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; }

srv_stop() {
  [ -n "$SRV_PID" ] || return 0
  local pids i
  pids=$(tree_pids "$SRV_PID")
  kill -TERM "$SRV_PID" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    srv_alive || break
    sleep 0.1
  done
  if srv_alive; then
    bench_log "pid $SRV_PID ignored SIGTERM for 10 s; SIGKILL"
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  fi
  wait "$SRV_PID" 2>/dev/null
  # Children that outlive their parent (NSD's xfrd, a daemonized helper): end those too, by pid.
  for p in $pids; do
    [ -d "/proc/$p" ] && kill -KILL "$p" 2>/dev/null
  done
  SRV_PID=""
}

srv_logs() {
  local f
  for f in "$SRV_DIR"/*.log; do
    [ -s "$f" ] || continue
    echo "---- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

# PID and all its descendants (threads are counted inside their process).
tree_pids() {
  local p=$1 c
  [ -d "/proc/$p" ] || return 0
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
    tree_pids "$c"
  done
}

# utime + stime in clock ticks of PID and its descendants (fields 14 and 15 of /proc/PID/stat;
# the comm field may hold spaces, so count from the closing parenthesis).
tree_cpu_ticks() {
  local u s
  read -r u s < <(tree_cpu_split "$1")
  echo $((u + s))
}

# "UTIME STIME" in clock ticks, summed over PID and its descendants.
tree_cpu_split() {
  local p
  for p in $(tree_pids "$1"); do
    sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null
  done | awk '{u += $12; s += $13} END {print u + 0, s + 0}'
}

# "RSS_KB HWM_KB PSS_KB NPROC": VmRSS and Pss summed over the tree, VmHWM the largest process's.
# (Forked processes share pages, so summed RSS double counts them; Pss splits shared pages.)
tree_mem() {
  local rss=0 hwm=0 pss=0 n=0 p r h s
  for p in $(tree_pids "$1"); do
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    h=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0})); n=$((n + 1))
    [ "${h:-0}" -gt "$hwm" ] && hwm=${h:-0}
  done
  echo "$rss $hwm $pss $n"
}

srv_wait_answer() {
  python3 "$BENCH_DIR/dnsprobe.py" --port "$1" --name "$2" --type "$3" --timeout "$4"
}

# Refuses to go on if something already listens on PORT (a system instance, an earlier run).
port_free() {
  ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}
