#!/usr/bin/env bash
# install-service.sh: installs pharosd as a systemd service (docs/operations.md).
#   scripts/install-service.sh                      as root, from build/release
#   scripts/install-service.sh --build-dir DIR      binaries from another build
#   scripts/install-service.sh --destdir DIR        stage into DIR (packaging, tests): no chown,
#                                                   no systemctl, the user is created in DIR/etc
# Creates the system user pharos, installs pharosd to /usr/local/sbin and pharosctl to
# /usr/local/bin, an example configuration to /etc/pharos (never over an existing one), the state
# directory /var/lib/pharos and the unit /etc/systemd/system/pharosd.service. It does not start
# anything: check the configuration, then `systemctl enable --now pharosd`.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
destdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --destdir) destdir=$(realpath -m "$2"); shift 2 ;;
    *) echo "install-service.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-service.sh: run as root (or with --destdir to stage the files)" >&2
  exit 1
fi
for b in "$build/app/pharosd" "$build/app/pharosctl"; do
  [ -x "$b" ] || { echo "install-service.sh: $b not found: build first (scripts/build.sh release pharosd pharosctl)" >&2; exit 1; }
done

say() { echo "install-service.sh: $*"; }
etc=$destdir/etc/pharos

# 1. The user: systemd-sysusers where systemd is, useradd otherwise.
install -d "$destdir/etc/sysusers.d"
install -m 0644 dist/pharos.sysusers "$destdir/etc/sysusers.d/pharos.conf"
if command -v systemd-sysusers >/dev/null; then
  if [ -n "$destdir" ]; then
    systemd-sysusers --root="$destdir" - < dist/pharos.sysusers ||
      say "systemd-sysusers could not create the user in $destdir: the package's postinst must"
  else
    systemd-sysusers /etc/sysusers.d/pharos.conf
  fi
elif [ -z "$destdir" ] && ! getent passwd pharos >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/pharos --no-create-home --shell /usr/sbin/nologin pharos
fi

# 2. Binaries.
install -d "$destdir/usr/local/sbin" "$destdir/usr/local/bin" "$destdir/usr/local/share/doc/pharos"
install -m 0755 "$build/app/pharosd" "$destdir/usr/local/sbin/pharosd"
install -m 0755 "$build/app/pharosctl" "$destdir/usr/local/bin/pharosctl"
install -m 0644 docs/operations.md "$destdir/usr/local/share/doc/pharos/operations.md"

# 3. Configuration: root's, readable by the group pharos (pharosd re-reads it as pharos on SIGHUP).
# The scenario files are pharos's own: config changes through the control API write them back.
install -d -m 0750 "$etc" "$etc/zones" "$etc/scenarios"
if [ -e "$etc/pharos.json" ]; then
  say "$etc/pharos.json exists: left as it is"
else
  install -m 0640 dist/pharos.json "$etc/pharos.json"
  install -m 0640 zones/example.com.zone "$etc/zones/example.com.zone"
  install -m 0640 zones/gtm.json "$etc/scenarios/gtm.json"
  # No token ships: the operator makes them (docs/api.md). Until then the API has none.
  printf '{ "tokens": [] }\n' > "$etc/tokens.json"
  chmod 0640 "$etc/tokens.json"
  say "example configuration in $etc: edit it, then: pharosd --check -c /etc/pharos/pharos.json"
fi
if [ -z "$destdir" ]; then
  chown -R root:pharos "$etc"
  chown -R pharos:pharos "$etc/scenarios"
fi

# 4. State directory, owned by pharos (the unit lets pharosd write nowhere else).
install -d "$destdir/etc/tmpfiles.d"
install -m 0644 dist/pharos.tmpfiles "$destdir/etc/tmpfiles.d/pharos.conf"
install -d -m 0750 "$destdir/var/lib/pharos"
if [ -z "$destdir" ]; then chown pharos:pharos /var/lib/pharos; fi

# 5. The unit.
install -d "$destdir/etc/systemd/system"
install -m 0644 dist/pharosd.service "$destdir/etc/systemd/system/pharosd.service"
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  say "installed; start it with: systemctl enable --now pharosd"
else
  say "installed; systemd is not running here: nothing reloaded"
fi
