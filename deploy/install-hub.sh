#!/usr/bin/env bash
# install-hub.sh installs or updates cis490 on the hub (the Pi 5): the
# service user, the binary, the cis490-hub and cis490-receiver units,
# /etc/cis490/receiver.toml and the nats-server configuration from the
# kit's hub/ (nats-server.conf, site.conf), each only if missing,
# /etc/cis490/tls and the JetStream store directory; it restarts the units
# that are enabled. Safe to
# run again, and from the install directory itself:
#
#   sudo deploy/install-hub.sh                             # a checkout, after make build
#   sudo /usr/local/share/cis490/install-hub.sh            # again, later
#
# docs/deploy.md walks through it; install-lib.sh lists the environment
# (CIS490_BIN, PREFIX, DESTDIR, SYSTEMCTL, ...).
set -euo pipefail

kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=install-lib.sh
. "$kit/install-lib.sh"

cis490_init install-hub
ensure_user
install_binary
install_kit
install_unit cis490-hub.service
install_unit cis490-receiver.service
install_config receiver.toml.example receiver.toml cis490-receiver.service
# The nats-server configuration: nats-server.conf and site.conf, each only
# if missing; users.conf is cis490 hub provision's (docs/security.md).
for f in "${hub_conf_files[@]}"; do
	[ -f "$kit/hub/$f" ] || continue
	install_config "hub/$f" "$f" cis490-hub.service
	if ! cmp -s "$kit/hub/$f" "$DESTDIR$confdir/$f"; then
		say "note: $DESTDIR$confdir/$f differs from this kit's; compare: diff -u $DESTDIR$confdir/$f $kit/hub/$f"
	fi
done
if [ ! -e "$DESTDIR$confdir/nats-server.conf" ]; then
	say "warning: this kit has no hub/nats-server.conf and $DESTDIR$confdir/nats-server.conf does not exist: write it before starting cis490-hub (docs/deploy.md)"
elif [ ! -e "$DESTDIR$confdir/users.conf" ]; then
	say "no $DESTDIR$confdir/users.conf yet: write it before starting cis490-hub with"
	say "  cis490 hub provision --host NAME... --no-apply --out $confdir/users.conf   (docs/security.md)"
fi
# Certificates and keys (docs/security.md), readable by the service group only.
config_dir "$confdir/tls"
state_dir "$statedir" 0750
state_dir "$statedir/hub" 0750

# The hub first: the receiver connects to it.
restart_enabled cis490-hub.service cis490-receiver.service
finish
