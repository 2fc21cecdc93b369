#!/usr/bin/python3
"""Parses a Prometheus text exposition with the official Python client's parser (Debian package
python3-prometheus-client), so /metrics is checked by a parser that is not ours.

    prometheus_client_parse.py EXPOSITION_FILE

Prints one line per sample, "name<TAB>label=value,...<TAB>value" with labels sorted by name, and
exits 0; on text the parser refuses, prints the error to stderr and exits 1."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        lines = []
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                lines.append(f"{s.name}\t{labels}\t{s.value!r}")
    except Exception as e:  # the parser raises ValueError and others on malformed text
        print(f"refused: {e}", file=sys.stderr)
        return 1
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
