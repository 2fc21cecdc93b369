#!/usr/bin/env python3
"""mmdb_writer.py: writes small MaxMind DB (.mmdb) files for tests and benchmarks.

Written from the published MaxMind DB File Format Specification 2.0: a binary search tree of
nodes with two 24-, 28- or 32-bit records each, a 16-byte separator, a data section of typed
values, and the metadata map after the marker b"\\xAB\\xCD\\xEFMaxMind.com". No MaxMind code is
used. Only what GeoIP2 Country/City readers need is supported: maps, strings, unsigned
integers, doubles, booleans and arrays in the data section (no pointers: values are
de-duplicated by sharing one offset instead).

  mmdb_writer.py spec.json out.mmdb          # networks from a JSON spec (see below)
  mmdb_writer.py --synthetic 400000 out.mmdb # random country networks, realistic sizes

spec.json:
  { "ip_version": 6, "record_size": 28, "database_type": "GeoLite2-Country",
    "ipv4_aliases": true,
    "networks": [ ["81.2.69.0/24", {"country": {"iso_code": "GB"}, "continent": {"code": "EU"}}],
                  ["2a02:d8::/32", {"country": {"iso_code": "DE"}, "continent": {"code": "EU"}}] ] }

In an IPv6 database, IPv4 networks live under ::/96 (as libmaxminddb looks them up), and with
"ipv4_aliases" the networks ::ffff:0:0/96 and 2002::/16 point at that subtree, as MaxMind's own
databases do.
"""
import ipaddress
import json
import random
import struct
import sys
import time

# Data section types (spec: "Output Data Section").
POINTER, UTF8, DOUBLE, BYTES, UINT16, UINT32, MAP = 1, 2, 3, 4, 5, 6, 7
INT32, UINT64, UINT128, ARRAY, CONTAINER, END, BOOLEAN, FLOAT = 8, 9, 10, 11, 12, 13, 14, 15


def control(type_, size):
    """The control byte(s): type in the top 3 bits (or extended), size in the low 5 (or more)."""
    if size < 29:
        first, extra = size, b""
    elif size < 29 + 256:
        first, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        first, extra = 30, struct.pack(">H", size - 285)
    else:
        first, extra = 31, struct.pack(">I", size - 65821)[1:]
    if type_ <= 7:
        return bytes([(type_ << 5) | first]) + extra
    return bytes([first, type_ - 7]) + extra


def uint(type_, value, width):
    raw = value.to_bytes(width, "big").lstrip(b"\0")
    return control(type_, len(raw)) + raw


def encode(value):
    """A Python value as MMDB data. ("uint16", n) style tuples force an integer type."""
    if isinstance(value, tuple):
        kind, v = value
        return {"uint16": lambda: uint(UINT16, v, 2), "uint32": lambda: uint(UINT32, v, 4),
                "uint64": lambda: uint(UINT64, v, 8)}[kind]()
    if isinstance(value, bool):
        return control(BOOLEAN, 1 if value else 0)
    if isinstance(value, int):
        return uint(UINT32, value, 4) if value < 2**32 else uint(UINT64, value, 8)
    if isinstance(value, float):
        return control(DOUBLE, 8) + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        return control(UTF8, len(raw)) + raw
    if isinstance(value, dict):
        out = control(MAP, len(value))
        for k, v in value.items():
            out += encode(str(k)) + encode(v)
        return out
    if isinstance(value, list):
        return control(ARRAY, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {value!r}")


class Tree:
    """A binary trie; a record is None (empty), ("data", offset) or a node index."""

    def __init__(self, bits):
        self.bits = bits
        self.nodes = [[None, None]]

    def _child_node(self, node, bit):
        rec = self.nodes[node][bit]
        if isinstance(rec, int):
            return rec
        # Empty or data: a new node whose two halves inherit it (a data leaf is pushed down).
        self.nodes.append([rec, rec])
        self.nodes[node][bit] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def insert(self, number, prefix, record):
        node = 0
        for depth in range(prefix - 1):
            node = self._child_node(node, (number >> (self.bits - 1 - depth)) & 1)
        self.nodes[node][(number >> (self.bits - prefix)) & 1] = record

    def path_node(self, number, depth):
        """The node reached after `depth` bits of `number`, created as needed."""
        node = 0
        for d in range(depth):
            node = self._child_node(node, (number >> (self.bits - 1 - d)) & 1)
        return node


def write(spec, out_path):
    ip_version = spec.get("ip_version", 6)
    record_size = spec.get("record_size", 28)
    bits = 128 if ip_version == 6 else 32
    tree = Tree(bits)
    data = bytearray()
    offsets = {}
    for cidr, value in spec["networks"]:
        net = ipaddress.ip_network(cidr)
        raw = encode(value)
        if raw not in offsets:
            offsets[raw] = len(data)
            data += raw
        number, prefix = int(net.network_address), net.prefixlen
        if net.version == 4 and ip_version == 6:
            prefix += 96  # ::a.b.c.d
        elif net.version == 6 and ip_version == 4:
            raise SystemExit(f"{cidr}: an IPv6 network in an IPv4 database")
        if prefix == 0:
            raise SystemExit(f"{cidr}: a /0 network has no record in the tree")
        tree.insert(number, prefix, ("data", offsets[raw]))
    if ip_version == 6 and spec.get("ipv4_aliases"):
        ipv4 = tree.path_node(0, 96)
        for alias, depth in (("::ffff:0:0", 96), ("2002::", 16)):
            number = int(ipaddress.ip_address(alias))
            parent = tree.path_node(number, depth - 1)
            tree.nodes[parent][(number >> (bits - depth)) & 1] = ipv4

    # Number the nodes in depth-first order from the root; an alias is a node reached twice.
    order, seen, stack = [], {}, [0]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen[n] = len(order)
        order.append(n)
        for rec in reversed(tree.nodes[n]):
            if isinstance(rec, int) and rec not in seen:
                stack.append(rec)
    node_count = len(order)

    def value(rec):
        if rec is None:
            return node_count
        if isinstance(rec, int):
            return seen[rec]
        return node_count + 16 + rec[1]

    limit = 1 << record_size
    body = bytearray()
    for n in order:
        left, right = (value(r) for r in tree.nodes[n])
        if left >= limit or right >= limit:
            raise SystemExit(f"a record does not fit in {record_size} bits: use a larger record_size")
        if record_size == 24:
            body += left.to_bytes(3, "big") + right.to_bytes(3, "big")
        elif record_size == 28:
            body += (left & 0xFFFFFF).to_bytes(3, "big") + bytes([((left >> 24) << 4) | (right >> 24)]) + \
                (right & 0xFFFFFF).to_bytes(3, "big")
        elif record_size == 32:
            body += left.to_bytes(4, "big") + right.to_bytes(4, "big")
        else:
            raise SystemExit("record_size must be 24, 28 or 32")

    metadata = {
        "binary_format_major_version": ("uint16", 2),
        "binary_format_minor_version": ("uint16", 0),
        "build_epoch": ("uint64", spec.get("build_epoch", int(time.time()))),
        "database_type": spec.get("database_type", "GeoLite2-Country"),
        "description": {"en": spec.get("description", "pharos test database")},
        "ip_version": ("uint16", ip_version),
        "languages": ["en"],
        "node_count": ("uint32", node_count),
        "record_size": ("uint16", record_size),
    }
    with open(out_path, "wb") as f:
        f.write(body)
        f.write(b"\0" * 16)
        f.write(data)
        f.write(b"\xab\xcd\xefMaxMind.com")
        f.write(encode(metadata))
    return node_count


CONTINENTS = {"EU": ["DE", "FR", "GB", "IT", "ES", "NL", "PL", "SE"], "NA": ["US", "CA", "MX"],
              "AS": ["JP", "CN", "IN", "KR", "SG"], "SA": ["BR", "AR", "CL"], "AF": ["ZA", "NG", "EG"],
              "OC": ["AU", "NZ"]}


def synthetic(count, seed=1):
    """`count` networks of realistic shape: about 3/4 IPv4 (/16../24), 1/4 IPv6 (/29../48), in
    address order, each country record shared (as in GeoLite2-Country: a few hundred records)."""
    rng = random.Random(seed)
    pairs = [(c, k) for k, cs in CONTINENTS.items() for c in cs]
    records = [{"continent": {"code": k}, "country": {"iso_code": c}} for c, k in pairs]
    networks = []
    n4 = count * 3 // 4
    addr = int(ipaddress.ip_address("1.0.0.0"))
    for _ in range(n4):
        prefix = rng.choice([16, 18, 20, 21, 22, 22, 23, 24, 24, 24, 24])
        size = 1 << (32 - prefix)
        addr = (addr + size - 1) // size * size
        if addr + size > int(ipaddress.ip_address("223.255.255.255")):
            break
        networks.append([f"{ipaddress.ip_address(addr)}/{prefix}", rng.choice(records)])
        addr += size * rng.choice([1, 1, 1, 2])
    addr = int(ipaddress.ip_address("2001:200::"))
    for _ in range(count - len(networks)):
        prefix = rng.choice([29, 32, 32, 36, 40, 44, 48, 48])
        size = 1 << (128 - prefix)
        addr = (addr + size - 1) // size * size
        networks.append([f"{ipaddress.ip_address(addr)}/{prefix}", rng.choice(records)])
        addr += size * rng.choice([1, 1, 3])
    return {"ip_version": 6, "record_size": 28, "database_type": "GeoLite2-Country",
            "ipv4_aliases": True, "networks": networks}


def main(argv):
    if len(argv) == 4 and argv[1] == "--synthetic":
        spec = synthetic(int(argv[2]))
        out = argv[3]
    elif len(argv) == 3:
        with open(argv[1]) as f:
            spec = json.load(f)
        out = argv[2]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    nodes = write(spec, out)
    print(f"{out}: {len(spec['networks'])} networks, {nodes} nodes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
