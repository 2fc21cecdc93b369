#!/usr/bin/env python3
"""gen_zone.py: deterministic zones and dnsperf query files for the comparison benchmarks.

  gen_zone.py mixed --out DIR [--origin example.com] [--names 10000] [--queries 100000] [--seed 1]
      DIR/<origin>.zone   a static zone with NAMES owner names mixing A/AAAA/CNAME/MX/TXT
      DIR/queries.txt     dnsperf input ("name type" per line): hits, NODATA and NXDOMAIN
      DIR/samples.txt     one query of each kind, for checking that every server answers alike

  gen_zone.py big --out DIR [--origin big.test] [--records 1000000] [--kind a|mixed]
      DIR/<origin>.zone   SOA + NS + RECORDS records named hostNNNNNNN.<origin>
      DIR/probe.txt       "name type" of the last record: a server that answers it has loaded all

Only the standard library; the same arguments always give byte-identical files.
"""
import argparse
import os
import random
import sys

# How the owner names of the mixed zone are spread, by i % 10.
#   0,1,2: one A        3: two A          4,5: A + AAAA     6: CNAME to outside the zone
#   7: MX                                 8: TXT            9: AAAA only
# CNAME and MX targets sit outside the zone on purpose, so that every server does the same work:
# gdnsd 3 does not chase CNAMEs inside its own data (experimental_no_chain) while Knot and NSD do,
# and Knot adds the address of an in-zone MX target to the additional section while gdnsd and NSD
# (minimal-responses) do not.


def soa_ns(origin, out):
    out.write(f"$ORIGIN {origin}.\n$TTL 3600\n")
    out.write("@ 300 IN SOA ns1 hostmaster 2026112301 7200 900 1209600 300\n")
    out.write("@ 3600 IN NS ns1\n@ 3600 IN NS ns2\n")
    out.write("ns1 3600 IN A 192.0.2.53\nns2 3600 IN A 198.51.100.53\n")


def ipv4(i, base=10):
    return f"{base}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def ipv6(i):
    return f"2001:db8::{(i >> 16) & 0xffff:x}:{i & 0xffff:x}"


def mixed(args):
    os.makedirs(args.out, exist_ok=True)
    origin = args.origin.rstrip(".")
    n = args.names
    width = max(5, len(str(n - 1)))
    name = lambda i: f"h{i:0{width}d}"
    with open(os.path.join(args.out, f"{origin}.zone"), "w") as z:
        soa_ns(origin, z)
        for i in range(n):
            h, k = name(i), i % 10
            if k in (0, 1, 2):
                z.write(f"{h} 300 IN A {ipv4(i)}\n")
            elif k == 3:
                z.write(f"{h} 300 IN A {ipv4(i)}\n{h} 300 IN A {ipv4(i, 11)}\n")
            elif k in (4, 5):
                z.write(f"{h} 300 IN A {ipv4(i)}\n{h} 300 IN AAAA {ipv6(i)}\n")
            elif k == 6:
                z.write(f"{h} 300 IN CNAME {h}.cdn.example.net.\n")
            elif k == 7:
                z.write(f"{h} 300 IN MX 10 mx.{h}.example.net.\n")
            elif k == 8:
                z.write(f'{h} 300 IN TXT "v=spf1 ip4:{ipv4(i)} -all" "id={i}"\n')
            else:
                z.write(f"{h} 300 IN AAAA {ipv6(i)}\n")

    # What a query asks for, by kind of owner; one in ten asks a missing name (NXDOMAIN) and one
    # in twenty a type the name does not have (NODATA).
    hit_type = {0: "A", 1: "A", 2: "A", 3: "A", 4: "AAAA", 5: "A", 6: "A", 7: "MX", 8: "TXT", 9: "AAAA"}
    nodata_type = {0: "AAAA", 1: "TXT", 2: "MX", 3: "AAAA", 4: "TXT", 5: "MX", 6: "A", 7: "A",
                   8: "A", 9: "A"}
    rng = random.Random(args.seed)
    with open(os.path.join(args.out, "queries.txt"), "w") as q:
        for _ in range(args.queries):
            r = rng.random()
            i = rng.randrange(n)
            if r < 0.10:
                q.write(f"nx{i:0{width}d}.{origin}. A\n")
            elif r < 0.15 and i % 10 != 6:  # a CNAME owner has every type (it answers the CNAME)
                q.write(f"{name(i)}.{origin}. {nodata_type[i % 10]}\n")
            else:
                q.write(f"{name(i)}.{origin}. {hit_type[i % 10]}\n")

    with open(os.path.join(args.out, "samples.txt"), "w") as s:
        for k in range(10):
            i = 10 * (n // 20) + k
            s.write(f"{name(i)}.{origin}. {hit_type[i % 10]}\n")
        s.write(f"{name(0)}.{origin}. AAAA\n")         # NODATA
        s.write(f"nx{0:0{width}d}.{origin}. A\n")      # NXDOMAIN
        s.write(f"{origin}. SOA\n")
        s.write(f"{name(10 * (n // 20) + 6)}.{origin}. CNAME\n")
    print(f"gen_zone.py: {args.out}/{origin}.zone ({n} names), queries.txt ({args.queries} lines), samples.txt")


def big(args):
    os.makedirs(args.out, exist_ok=True)
    origin = args.origin.rstrip(".")
    n = args.records
    path = os.path.join(args.out, f"{origin}.zone")
    last = None
    with open(path, "w", buffering=1 << 20) as z:
        soa_ns(origin, z)
        lines = []
        for i in range(n):
            h = f"host{i:07d}"
            if args.kind == "a":
                lines.append(f"{h} IN A {ipv4(i)}\n")
                last = (h, "A")
            else:
                k = i % 5
                if k == 0:
                    lines.append(f"{h} IN A {ipv4(i)}\n")
                    last = (h, "A")
                elif k == 1:
                    lines.append(f"{h} IN AAAA {ipv6(i)}\n")
                    last = (h, "AAAA")
                elif k == 2:
                    lines.append(f"{h} IN CNAME host{i - 2:07d}\n")
                    last = (h, "CNAME")
                elif k == 3:
                    lines.append(f"{h} IN MX 10 host{i - 3:07d}\n")
                    last = (h, "MX")
                else:
                    lines.append(f'{h} IN TXT "record {i} of the mixed zone"\n')
                    last = (h, "TXT")
            if len(lines) >= 65536:
                z.write("".join(lines))
                lines.clear()
        z.write("".join(lines))
    with open(os.path.join(args.out, "probe.txt"), "w") as p:
        p.write(f"{last[0]}.{origin}. {last[1]}\n")
    print(f"gen_zone.py: {path} ({n} {args.kind} records), probe.txt")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mixed")
    m.add_argument("--out", required=True)
    m.add_argument("--origin", default="example.com")
    m.add_argument("--names", type=int, default=10000)
    m.add_argument("--queries", type=int, default=100000)
    m.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("big")
    b.add_argument("--out", required=True)
    b.add_argument("--origin", default="big.test")
    b.add_argument("--records", type=int, default=1000000)
    b.add_argument("--kind", choices=["a", "mixed"], default="a")
    args = ap.parse_args()
    if args.cmd == "mixed":
        if args.names < 20:
            sys.exit("gen_zone.py: --names must be at least 20")
        mixed(args)
    else:
        big(args)


if __name__ == "__main__":
    main()
