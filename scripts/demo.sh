#!/usr/bin/env bash
# demo.sh: installs what is missing, builds pharosd and runs it on the example data in zones/
# (127.0.0.1:5353 and [::1]:5353). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release pharosd pharosctl
chmod 600 zones/tokens.json zones/demo-operator.token  # git does not keep modes; pharosd warns about readable tokens
cat <<'MSG'

pharosd is starting on 127.0.0.1:5353 and [::1]:5353 with zones/pharos.json. In another terminal:

  dig @127.0.0.1 -p 5353 www.example.com A
  dig @127.0.0.1 -p 5353 app.example.com A          # a GTM record: the healthy data center's address
  dig @127.0.0.1 -p 5353 app.example.com A +subnet=10.2.0.0/16   # the same, for a client in region "us"
  dig @127.0.0.1 -p 5353 alias.example.com A        # a CNAME chain followed inside the zone
  dig @127.0.0.1 -p 5353 anything.apps.example.com  # a wildcard
  dig @127.0.0.1 -p 5353 host.sub.example.com       # a referral with glue

Operate it with pharosctl (the demo's operator token is in zones/demo-operator.token):

  export PHAROS_TOKEN_FILE=zones/demo-operator.token
  build/release/app/pharosctl records
  build/release/app/pharosctl explain app.example.com A --client 10.2.0.1
  build/release/app/pharosctl maintenance on dc1 --for 30m --reason "demo"

The log shows each health check, data center status and GTM answer change with its cause.
Edit zones/example.com.zone or zones/gtm.json and reload with:  kill -HUP $(pgrep -n pharosd)

MSG
cd zones
exec ../build/release/app/pharosd -c pharos.json
