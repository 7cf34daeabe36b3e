#!/usr/bin/env bash
# install-lab-host.sh installs or updates cis490 on a lab host: the service
# user, the binary, the cis490-publisher unit and /etc/cis490/lab-host.toml
# (only if missing); it drains episodes recorded before stamping into
# quarantine and restarts the publisher if it is enabled. Safe to run again,
# and from the install directory itself:
#
#   sudo deploy/install-lab-host.sh                        # a checkout, after make build
#   sudo /usr/local/share/cis490/install-lab-host.sh       # again, later
#
# docs/deploy.md walks through it; install-lib.sh lists the environment
# (CIS490_BIN, PREFIX, DESTDIR, SYSTEMCTL, ...).
set -euo pipefail

kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=install-lib.sh
. "$kit/install-lib.sh"

cis490_init install-lab-host
ensure_user
install_binary
install_kit
install_unit cis490-publisher.service
install_config lab-host.toml.example lab-host.toml cis490-publisher.service
# The client certificate and key for the hub (docs/security.md).
config_dir "$confdir/tls"
state_dir "$statedir" 0750
# The recorder writes here as a member of group $SERVICE_GROUP; the setgid
# bit gives each new episode directory that group.
state_dir "$statedir/episodes" 2770

# Episodes recorded before the recorder stamped code_version.commit would be
# judged unstamped one by one; move them all to quarantine/ now.
conf=$DESTDIR$confdir/lab-host.toml
data_dir=$("$bin" config check --config "$conf" --role publisher | sed -n 's/^data_dir = "\(.*\)"$/\1/p') ||
	die "$conf is not valid: fix it (cis490 config check --config $conf)"
[ -n "$data_dir" ] || die "$conf: no data_dir in cis490 config check's output"
if [ -d "$DESTDIR$data_dir" ]; then
	say "draining unstamped episodes in $DESTDIR$data_dir/episodes"
	as_service_user "$bin" quarantine drain-unstamped --config "$conf" --data-dir "$DESTDIR$data_dir" ||
		die "cis490 quarantine drain-unstamped failed"
else
	say "no $DESTDIR$data_dir yet: nothing to drain"
fi

restart_enabled cis490-publisher.service
finish
