#!/usr/bin/env python3
"""dnsprobe.py: wait until a DNS server on loopback gives a real answer, and say when.

  dnsprobe.py --port 15300 --name host0999999.big.test. --type A [--timeout 300] [--interval 0.02]

Sends one UDP query (no EDNS) every INTERVAL seconds to 127.0.0.1:PORT until a response comes back
with RCODE NOERROR, AA set and at least one answer record. Prints the wall-clock time of that
response as nanoseconds since the epoch (the same clock as `date +%s%N`) and exits 0; exits 1 after
TIMEOUT seconds. Bounded in time and count; loopback only.
"""
import argparse
import os
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}


def query(qid, name, qtype):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack("!HH", qtype, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--type", default="A")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--interval", type=float, default=0.02)
    args = ap.parse_args()
    qtype = TYPES.get(args.type.upper()) or int(args.type.upper().removeprefix("TYPE"))

    deadline = time.monotonic() + args.timeout
    qid = os.getpid() & 0xFFFF
    last = "no response"
    while time.monotonic() < deadline:
        qid = (qid + 1) & 0xFFFF
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(args.interval)
            s.sendto(query(qid, args.name, qtype), ("127.0.0.1", args.port))
            end = time.monotonic() + args.interval
            while True:
                s.settimeout(max(0.001, end - time.monotonic()))
                data = s.recv(65535)
                if len(data) < 12:
                    continue
                rid, flags, _, ancount = struct.unpack("!HHHH", data[:8])
                if rid != qid:
                    continue
                rcode, aa = flags & 0xF, bool(flags & 0x0400)
                if rcode == 0 and aa and ancount > 0:
                    print(time.time_ns())
                    return 0
                last = f"rcode={rcode} aa={int(aa)} ancount={ancount}"
                break
        except (socket.timeout, ConnectionRefusedError, OSError):
            pass
        finally:
            s.close()
        time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
    print(f"dnsprobe.py: no answer from 127.0.0.1:{args.port} for {args.name} {args.type} "
          f"within {args.timeout}s (last: {last})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
