#!/usr/bin/env bash
# install-deps.sh: installs, from Debian 12 packages only, whatever pharos needs and is missing.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   plus test tools (dig, kdig, clang/libFuzzer)
#   scripts/install-deps.sh --bench  plus the comparison servers and dnsperf
set -euo pipefail

pkgs=(build-essential cmake ccache pkg-config libldns-dev libuv1-dev libcurl4-openssl-dev rapidjson-dev
      libc-ares-dev libmicrohttpd-dev libssl-dev libmnl-dev libmaxminddb-dev libsystemd-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev dnsutils)
for arg in "$@"; do
  case "$arg" in
    --test)  pkgs+=(knot-dnsutils ldnsutils clang libclang-rt-14-dev iproute2 procps python3 python3-jsonschema python3-prometheus-client openssl systemd
                    chromium) ;;
    --bench) pkgs+=(knot-dnsutils dnsperf knot nsd gdnsd pdns-server pdns-backend-bind procps python3) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps.sh: installing ${missing[*]}"
# Knot, NSD and gdnsd start themselves on install; the benchmark runs its own instances.
export DEBIAN_FRONTEND=noninteractive
$sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
