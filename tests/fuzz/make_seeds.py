#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora for the fuzz targets (run from anywhere; idempotent).

Query seeds cover the shapes CONFORMANCE.md names: normal queries of every kind the example zone
answers, EDNS with options (ECS, NSID, cookie, keepalive), and malformed messages."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def name(n):
    out = b""
    for label in n.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(n, qtype=1, qclass=1, flags=0x0100, qd=1, an=0, ns=0, ar=0, tail=b"", qid=0x1234):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar) + name(n) + struct.pack(">HH", qtype, qclass) + tail


def opt(payload=1232, version=0, do=False, options=b""):
    return b"\0" + struct.pack(">HHBBHH", 41, payload, 0, version, 0x8000 if do else 0, len(options)) + options


def option(code, data):
    return struct.pack(">HH", code, len(data)) + data


seeds = {
    "www_a": query("www.example.com"),
    "www_aaaa_edns": query("www.example.com", 28, ar=1, tail=opt()),
    "apex_any": query("example.com", 255),
    "apex_ns": query("example.com", 2),
    "apex_mx": query("example.com", 15),
    "cname_chain": query("alias.example.com"),
    "cname_broken": query("broken.example.com"),
    "wildcard": query("a.b.apps.example.com", 16),
    "referral": query("x.sub.example.com"),
    "nxdomain": query("nope.example.com"),
    "refused": query("www.example.org"),
    "big_txt_small_payload": query("big.example.com", 16, ar=1, tail=opt(payload=100)),
    "chaos": query("id.server", 16, 3),
    "ecs": query("www.example.com", ar=1, tail=opt(options=option(8, bytes([0, 1, 24, 0, 198, 51, 100])))),
    "nsid_cookie_keepalive": query("www.example.com", ar=1,
                                   tail=opt(options=option(3, b"") + option(10, b"12345678") + option(11, b""))),
    "badvers": query("www.example.com", ar=1, tail=opt(version=1, do=True)),
    "notimp": query("www.example.com", flags=(15 << 11) | 0x07F0),
    "qd0": struct.pack(">HHHHHH", 1, 0, 0, 0, 0, 0),
    "qd2": query("a.example.com", qd=2) + name("b.example.com") + struct.pack(">HH", 1, 1),
    "pointer_in_qname": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x03www\xc0\x0c\x00\x01\x00\x01",
    "pointer_loop": query("a.example.com", ar=1, tail=b"\xc0\x1f" + struct.pack(">HHIH", 1, 1, 0, 0)),
    "truncated": query("www.example.com")[:-3],
    "short": b"\x12\x34\x01",
    "axfr": query("example.com", 252),
    "tsig": query("www.example.com", ar=1, tail=name("key") + struct.pack(">HHIH", 250, 255, 0, 19) + name("a") +
                  b"\0\0\0\0\0\1\x01\x2c\0\0\x12\x34\0\0\0\0"),
}

os.makedirs(os.path.join(HERE, "corpus", "query_response"), exist_ok=True)
for key, data in seeds.items():
    with open(os.path.join(HERE, "corpus", "query_response", key), "wb") as f:
        f.write(data)

zone_dir = os.path.join(HERE, "corpus", "zone_load")
os.makedirs(zone_dir, exist_ok=True)
with open(os.path.join(HERE, "..", "..", "zones", "example.com.zone"), "rb") as f:
    example = f.read()
zones = {
    "example": example,
    "minimal": b"@ 300 IN SOA ns1 host 1 2 3 4 5\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n",
    "directives": b"$TTL 1h\n$ORIGIN example.com.\n@ IN SOA ns1 host ( 1 2\n 3 4 5 )\n@ IN NS ns1\n"
                  b"$ORIGIN sub.example.com.\nwww IN CNAME @\n@ IN NS ns.other.\n",
    "errors": b"@ 300 IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nx IN CNAME y\nx IN A 1.2.3.4\n",
    "quotes": b"@ 300 IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nt IN TXT \"a;b\" \"c(d\"\n*.w IN MX 10 t\n",
}
for key, data in zones.items():
    with open(os.path.join(zone_dir, key), "wb") as f:
        f.write(data)

scenario_dir = os.path.join(HERE, "corpus", "scenario_load")
os.makedirs(scenario_dir, exist_ok=True)
with open(os.path.join(HERE, "..", "..", "zones", "gtm.json"), "rb") as f:
    gtm = f.read()
scenarios = {
    "example": gtm,
    "checks": b'{"checks": {"a": {"type": "tcp", "target": "127.0.0.1:80", "send": "x", "expect": "y"},'
              b' "b": {"type": "https", "url": "https://h/", "tlsVerify": false, "expectBodyRegex": "^ok"}}}',
    "dc": b'{"datacenters": {"dc1": {"accessPeriod": "2s", "wanAccess": {"minUp": 1, "targets":'
          b' [{"type": "icmp", "target": "::1"}]}, "maintenanceMode": true}}}',
    "gtm": b'{"datacenters": {"dc1": {}, "dc2": {}}, "scenarios": {"s": [["auto|dc1|access", "auto|dc2|access!"]]},'
           b' "regions": {"eu": ["10.1.0.0/16", "2001:db8::/32"]},'
           b' "records": [{"name": "www.example.com.", "type": "A", "ttl": 30,'
           b' "chain": [{"dc": "dc1", "scenario": "s", "rdata": ["192.0.2.1"]}, {"dc": "dc2", "rdata": ["192.0.2.2"]}],'
           b' "backupBehavior": "onlyNew", "staleAfter": "10s", "dr": {"rdata": ["203.0.113.1"], "drIfNoRecords": true},'
           b' "fallbackRecords": ["203.0.113.9"], "allDown": "nodata", "geo": {"eu": ["dc2", "dc1"]}}]}',
    "broken": b'{"records": [{"name": "x.", "type": "A", "chain": [{"dc": "nope", "rdata": ["1.2.3"]}]}]}',
}
for key, data in scenarios.items():
    with open(os.path.join(scenario_dir, key), "wb") as f:
        f.write(data)
