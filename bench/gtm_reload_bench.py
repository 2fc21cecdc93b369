#!/usr/bin/env python3
"""gtm_reload_bench.py: pharosd with 100,000 GTM records: initial load time and memory, then SIGHUP
reloads under steady dnsperf load: reload time and lost queries. See bench/README.md, "GTM benchmarks".

  python3 bench/gtm_reload_bench.py [--records 100000] [--reloads 5] [--qps 5000] [--gap 3]
                                    [--port 15600] [--check-port 18090] [--pin] [--out OUT.md] [--keep]

1. bench/gen_gtm.py reload writes gtm.test with N GTM A records (3-DC chains, TCP checks every 2 s on
   127.0.0.11-13:CHECKPORT, where this script accepts connections) and a dnsperf file of every name.
2. pharosd starts (stderr to a log file). Initial load = exec -> the "started" log line, and exec ->
   the first NOERROR answer for the last record (polled every 10 ms); RSS/HWM once it answers.
3. dnsperf sends every name in turn at a fixed rate (-Q QPS, -c 1, -q 500, -t 5: a query without an
   answer after 5 s is lost). After a few seconds of load, SIGHUP; reload time = SIGHUP -> the
   "reloaded" log line (the log is polled every 2 ms). The next SIGHUP follows GAP seconds after
   that line. dnsperf runs on for GAP more seconds after the last reload, then reports sent,
   completed, lost and response codes: lost must be 0 and every response NOERROR.
Loopback only; every wait is bounded; every started process is ended by its PID.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accept_forever(sock, stop):
    """A health target: accept TCP connections and close them."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = sock.accept()
            c.close()
        except socket.timeout:
            pass
        except OSError:
            return


def query(name, qid=0x1234):
    q = qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


def wait_answer(port, name, deadline, proc):
    """Polls every 10 ms until NOERROR with an answer; returns monotonic ns, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.01)
    q = query(name)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                s.sendto(q, ("127.0.0.1", port))
                r = s.recv(1500)
                if len(r) >= 12 and r[:2] == q[:2] and (r[3] & 0xF) == 0 and int.from_bytes(r[6:8], "big") > 0:
                    return time.monotonic_ns()
            except (socket.timeout, ConnectionRefusedError):
                pass
            time.sleep(0.01)
    finally:
        s.close()
    return None


class LogWatch:
    """Counts lines matching msg="..." in pharosd's log, polling the file."""

    def __init__(self, path):
        self.path = path

    def count(self, msg):
        try:
            with open(self.path, errors="replace") as f:
                return sum(1 for line in f if f'msg="{msg}"' in line or f"msg={msg} " in line)
        except FileNotFoundError:
            return 0

    def wait(self, msg, n, deadline, interval=0.002):
        while time.monotonic() < deadline:
            if self.count(msg) >= n:
                return time.monotonic_ns()
            time.sleep(interval)
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100000)
    p.add_argument("--reloads", type=int, default=5)
    p.add_argument("--qps", type=int, default=5000)
    p.add_argument("--gap", type=float, default=3.0, help="seconds of load before, between and after reloads")
    p.add_argument("--port", type=int, default=15600)
    p.add_argument("--check-port", type=int, default=18090)
    p.add_argument("--pin", action="store_true", help="pharosd on CPU 0 (its reload thread too), dnsperf on CPU 1")
    p.add_argument("--timeout", type=float, default=300, help="seconds any one wait may take")
    p.add_argument("--out")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    if not (1 <= a.records <= 1000000 and 1 <= a.reloads <= 50 and 1 <= a.qps <= 100000):
        p.error("--records 1..1000000, --reloads 1..50, --qps 1..100000")
    pharosd = os.environ.get("PHAROSD", f"{REPO}/build/release/app/pharosd")
    if not os.access(pharosd, os.X_OK):
        sys.exit(f"gtm_reload_bench.py: no pharosd at {pharosd} (set PHAROSD)")
    if not shutil.which("dnsperf"):
        sys.exit("gtm_reload_bench.py: dnsperf missing (scripts/install-deps.sh --bench)")

    work = tempfile.mkdtemp(prefix="pharos-gtmreload.")
    procs = []
    stop = threading.Event()
    socks = []
    t_start, load_start = time.strftime("%H:%M:%S", time.gmtime()), loadavg()
    try:
        subprocess.run([sys.executable, f"{BENCH}/gen_gtm.py", "reload", "--out", work, "--records", str(a.records),
                        "--check-port", str(a.check_port), "--dns-port", str(a.port)], check=True)
        gtm_mib = os.path.getsize(f"{work}/gtm.json") / 1048576
        for k in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((f"127.0.0.{11 + k}", a.check_port))
            s.listen(64)
            socks.append(s)
            threading.Thread(target=accept_forever, args=(s, stop), daemon=True).start()

        # (2) start and initial load
        logpath = f"{work}/pharosd.log"
        watch = LogWatch(logpath)
        cmd = ([ "taskset", "-c", "0"] if a.pin else []) + [pharosd, "-c", f"{work}/pharos.json"]
        t0 = time.monotonic_ns()
        srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(logpath, "w"), stdin=subprocess.DEVNULL)
        procs.append(srv)
        log(f"pharosd pid {srv.pid}: {' '.join(cmd)}")
        deadline = time.monotonic() + a.timeout
        t_started = watch.wait("started", 1, deadline, interval=0.005)
        t_answer = wait_answer(a.port, f"g{a.records - 1}.gtm.test", deadline, srv)
        if t_started is None or t_answer is None:
            sys.exit(f"pharosd did not start; log:\n{open(logpath).read()[-3000:]}")
        start_cpu = cpu_s(srv.pid)
        time.sleep(2)
        mem_start = mem_kb(srv.pid)
        log(f"started in {(t_started - t0) / 1e9:.2f} s, answers after {(t_answer - t0) / 1e9:.2f} s, "
            f"RSS {mem_start['VmRSS'] / 1024:.1f} MiB")

        # (3) load and reloads. dnsperf runs for an upper bound and is stopped by SIGINT once the last
        # reload has had GAP seconds of load after it (dnsperf prints its statistics on SIGINT).
        perf_cmd = (["taskset", "-c", "1"] if a.pin else []) + [
            "dnsperf", "-s", "127.0.0.1", "-p", str(a.port), "-d", f"{work}/queries.txt", "-c", "1", "-q", "500",
            "-t", "5", "-Q", str(a.qps), "-l", str(int(a.reloads * (a.timeout + a.gap) + 2 * a.gap + 10))]
        perf = subprocess.Popen(perf_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(perf)
        log(f"dnsperf pid {perf.pid}: {' '.join(perf_cmd)}")
        time.sleep(a.gap)
        reload_ms, reload_cpu = [], []
        for i in range(a.reloads):
            before = watch.count("reloaded")
            c0 = cpu_s(srv.pid)
            ts = time.monotonic_ns()
            srv.send_signal(signal.SIGHUP)
            tr = watch.wait("reloaded", before + 1, time.monotonic() + a.timeout)
            if tr is None:
                log(f"reload {i + 1}: no 'reloaded' line within {a.timeout} s")
                break
            reload_ms.append((tr - ts) / 1e6)
            reload_cpu.append(cpu_s(srv.pid) - c0)
            log(f"reload {i + 1}: {reload_ms[-1]:.0f} ms (server CPU meanwhile {reload_cpu[-1]:.2f} s), load {loadavg()}")
            time.sleep(a.gap)
        perf.send_signal(signal.SIGINT)
        try:
            perf_out, _ = perf.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf_out, _ = perf.communicate()
        mem_end = mem_kb(srv.pid)
        failed = watch.count("reload failed, still serving the previous data")
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()

        def field(pattern):
            m = re.search(pattern, perf_out)
            return m.group(1) if m else "?"
        sent = field(r"Queries sent:\s+(\d+)")
        done = field(r"Queries completed:\s+(\d+)")
        lost = field(r"Queries lost:\s+(\d+)")
        counted = sent.isdigit() and done.isdigit() and lost.isdigit()
        inflight = int(sent) - int(done) - int(lost) if counted else -1
        # dnsperf stops sending on SIGINT and reports without waiting for the queries in flight:
        # at QPS with sub-millisecond answers a handful, GAP seconds after the last reload.
        balanced = counted and 0 <= inflight <= max(5, a.qps // 200)
        rcodes = re.sub(r" \([0-9.]+%\)", "", field(r"Response codes:\s+(.*)"))
        qps = field(r"Queries per second:\s+([0-9.]+)")
        t_end, load_end = time.strftime("%H:%M:%S", time.gmtime()), loadavg()

        med = statistics.median(reload_ms) if reload_ms else float("nan")
        lines = [
            f"Command: `python3 bench/gtm_reload_bench.py {' '.join(sys.argv[1:])}` ({t_start} → {t_end} UTC, "
            f"load average {load_start} → {load_end})",
            "",
            f"{a.records} GTM A records (3-DC chains, TCP checks every 2 s) in `gtm.json` ({gtm_mib:.1f} MiB), "
            f"zone gtm.test; pharosd `workers: 1`{', pinned to CPU 0, dnsperf to CPU 1' if a.pin else ', not pinned'}.",
            "",
            "| what | value |",
            "|---|---|",
            f"| initial load: exec → `started` log line | {(t_started - t0) / 1e9:.2f} s |",
            f"| initial load: exec → first answer for g{a.records - 1} | {(t_answer - t0) / 1e9:.2f} s (CPU {start_cpu:.2f} s) |",
            f"| RSS after start (VmRSS / VmHWM) | {mem_start['VmRSS'] / 1024:.1f} / {mem_start['VmHWM'] / 1024:.1f} MiB |",
            f"| reloads (SIGHUP → `reloaded` log line), median | {med:.0f} ms |",
            f"| every reload, in order (ms) | {' '.join(f'{x:.0f}' for x in reload_ms)} |",
            f"| server CPU per reload (s) | {' '.join(f'{x:.2f}' for x in reload_cpu)} |",
            f"| reloads that failed | {failed} |",
            f"| RSS after the reloads (VmRSS / VmHWM) | {mem_end['VmRSS'] / 1024:.1f} / {mem_end['VmHWM'] / 1024:.1f} MiB |",
            f"| dnsperf: sent / completed / lost (no answer in 5 s) / in flight when stopped | {sent} / {done} / {lost} / "
            f"{inflight} |",
            f"| dnsperf: response codes | {rcodes} |",
            f"| dnsperf: queries/s | {qps} |",
            "",
            f"Load: `{' '.join(perf_cmd).replace(work + '/', '')}`, stopped with SIGINT {a.gap:g} s after the last reload; "
            f"SIGHUP after {a.gap:g} s of load and {a.gap:g} s after each `reloaded` line. dnsperf counts a query "
            "lost when no answer came within its 5 s timeout; it was stopped with SIGINT, which reports at once: \"in flight when stopped\" = sent − completed − lost, "
            "queries sent in the last moment before the stop, long after the last reload.",
            f"Lost queries: **{'none' if lost == '0' else lost}**.",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        if a.out:
            with open(a.out, "w") as f:
                f.write(report)
        return 0 if lost == "0" and balanced and failed == 0 and len(reload_ms) == a.reloads else 1
    finally:
        stop.set()
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        for s in socks:
            s.close()
        if a.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
