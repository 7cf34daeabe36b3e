# shellcheck shell=bash
# install-lib.sh: what install-lab-host.sh and install-hub.sh share. Sourced,
# never run. Every step is idempotent: a file already equal to its source is
# left alone (not even its mtime changes), an existing configuration is never
# overwritten, and a source that is its own destination (the script run from
# the install directory, PREFIX/share/cis490) is kept, not copied onto itself.
#
# Environment (default in brackets):
#   CIS490_BIN     the cis490 binary to install [<kit>/../bin/cis490 (a
#                  checkout after `make build`), else the one installed]
#   PREFIX         [/usr/local] binary in PREFIX/bin, this kit in PREFIX/share/cis490
#   DESTDIR        [] staging root put before every path written; with it set,
#                  systemctl, useradd and getent are not run unless given below
#   SERVICE_USER   [cis490] the user the daemons run as; SERVICE_GROUP [same]
#   SYSTEMCTL      [systemctl] command run as: SYSTEMCTL daemon-reload,
#                  SYSTEMCTL is-enabled --quiet UNIT, SYSTEMCTL restart UNIT
#   GETENT         [getent] command run as: GETENT passwd USER
#   USERADD        [useradd] command run as: USERADD --system ... USER
#
# Paths the units name are fixed: /etc/cis490 (configuration),
# /var/lib/cis490 (state), /etc/systemd/system (units).

: "${kit:?install-lib.sh: the sourcing script sets kit, its own directory}"
: "${PREFIX:=/usr/local}"
: "${DESTDIR:=}"
: "${SERVICE_USER:=cis490}"
: "${SERVICE_GROUP:=$SERVICE_USER}"

confdir=/etc/cis490
statedir=/var/lib/cis490
unitdir=/etc/systemd/system
sharedir=$PREFIX/share/cis490
bindir=$PREFIX/bin

# The kit: what is copied to PREFIX/share/cis490 so that the scripts can be
# run again from there. Paths relative to the kit directory.
kit_files=(install-lab-host.sh install-hub.sh install-lib.sh
	lab-host.toml.example receiver.toml.example
	systemd/cis490-publisher.service systemd/cis490-receiver.service systemd/cis490-hub.service)

# The hub's nats-server configuration shipped in the kit's hub/: the file
# and the one it includes for the site. users.conf, which it includes too, is
# written by `cis490 hub provision` on the hub, never copied: provision keeps
# the hosts a users.conf lists, so a sample's would stay forever.
hub_conf_files=(nats-server.conf site.conf)

changed=0   # files written by this run
wrote=0     # 1 if the last put wrote its file
bin=""      # the installed binary, set by install_binary
new_bin=0   # 1 if this run installed a different binary
touched=()  # units whose unit file or configuration this run wrote
systemctl_cmd=()
getent_cmd=()
useradd_cmd=()

say() { printf '%s: %s\n' "$prog" "$*"; }

# die MESSAGE: a usage or setup error; exit 2, as cis490 itself does.
die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 2
}

# cis490_init NAME: checks the caller may install, and chooses the commands.
cis490_init() {
	prog=$1
	case $PREFIX in
	/*) ;;
	*) die "PREFIX=$PREFIX: want an absolute path" ;;
	esac
	if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
		die "run as root (sudo $0), or set DESTDIR=DIR for a staged install"
	fi
	if [ -n "${SYSTEMCTL:-}" ]; then
		systemctl_cmd=("$SYSTEMCTL")
	elif [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
		systemctl_cmd=(systemctl)
	fi
	if [ -n "${GETENT:-}" ] || [ -z "$DESTDIR" ]; then
		getent_cmd=("${GETENT:-getent}")
	fi
	if [ -n "${USERADD:-}" ] || [ -z "$DESTDIR" ]; then
		useradd_cmd=("${USERADD:-useradd}")
	fi
	if [ -n "$DESTDIR" ]; then
		say "staged install under DESTDIR=$DESTDIR"
	fi
}

# ensure_user creates the service user and group when getent does not know
# the user. It is a system user with no shell and no home of its own.
ensure_user() {
	if ((${#getent_cmd[@]} == 0)); then
		say "DESTDIR set and GETENT unset: not checking for user $SERVICE_USER"
		return
	fi
	if "${getent_cmd[@]}" passwd "$SERVICE_USER" >/dev/null; then
		say "user $SERVICE_USER exists"
		return
	fi
	if ((${#useradd_cmd[@]} == 0)); then
		say "DESTDIR set and USERADD unset: not creating user $SERVICE_USER"
		return
	fi
	"${useradd_cmd[@]}" --system --user-group --home-dir "$statedir" --no-create-home \
		--shell /usr/sbin/nologin --comment "cis490 daemons" "$SERVICE_USER" ||
		die "create user $SERVICE_USER: ${useradd_cmd[*]} failed"
	say "created system user $SERVICE_USER"
}

# put FROM TO MODE [GROUP] installs file FROM as TO (mode MODE, group GROUP)
# through a temporary file and a rename, unless TO is FROM itself or already
# holds the same bytes; then only the mode and group are made right.
put() {
	local from=$1 to=$2 mode=$3 group=${4:-}
	wrote=0
	if [ -e "$to" ] && [ "$from" -ef "$to" ]; then
		say "kept $to (it is the source)"
		return
	fi
	if [ -f "$to" ] && cmp -s "$from" "$to"; then
		chmod "$mode" "$to"
		if [ -n "$group" ]; then chgrp "$group" "$to"; fi
		return
	fi
	local dir tmp
	dir=$(dirname "$to")
	mkdir -p "$dir"
	tmp=$(mktemp "$dir/.$(basename "$to").tmp-XXXXXX")
	if ! cp "$from" "$tmp" || ! chmod "$mode" "$tmp" || { [ -n "$group" ] && ! chgrp "$group" "$tmp"; }; then
		rm -f "$tmp"
		die "install $to from $from failed"
	fi
	mv -f "$tmp" "$to"
	say "installed $to"
	changed=$((changed + 1))
	wrote=1
}

# find_binary prints the binary to install: CIS490_BIN, a checkout's
# bin/cis490, or the one already installed (a run from the install directory).
find_binary() {
	if [ -n "${CIS490_BIN:-}" ]; then
		[ -f "$CIS490_BIN" ] || die "CIS490_BIN=$CIS490_BIN: no such file"
		printf '%s\n' "$CIS490_BIN"
		return
	fi
	local c
	for c in "$kit/../bin/cis490" "$DESTDIR$bindir/cis490"; do
		if [ -f "$c" ]; then
			printf '%s\n' "$c"
			return
		fi
	done
	die "no cis490 binary: run 'make build' in the checkout, or set CIS490_BIN (for the Pi: make cross, then CIS490_BIN=bin/cis490-linux-arm64)"
}

# install_binary installs the cis490 binary as PREFIX/bin/cis490, after
# checking that it runs on this machine (a binary built for the other
# architecture is refused here, not by systemd at start).
install_binary() {
	local from
	from=$(find_binary)
	"$from" version >/dev/null 2>&1 ||
		die "$from does not run on this machine ($(uname -m)): build it for this architecture (make cross)"
	put "$from" "$DESTDIR$bindir/cis490" 0755
	new_bin=$wrote
	bin=$DESTDIR$bindir/cis490
	say "binary: $("$bin" version)"
}

# install_kit copies the kit to PREFIX/share/cis490, so the scripts can be
# run again from there, with the hub's configuration when the kit has it.
install_kit() {
	if [ "$kit" -ef "$DESTDIR$sharedir" ]; then
		say "running from the install directory $kit: kit kept as it is"
		return
	fi
	local f mode
	for f in "${kit_files[@]}" "${hub_conf_files[@]/#/hub/}"; do
		[ -f "$kit/$f" ] || continue
		mode=0644
		case $f in *.sh) mode=0755 ;; esac
		put "$kit/$f" "$DESTDIR$sharedir/$f" "$mode"
	done
}

# install_unit NAME installs systemd/NAME into /etc/systemd/system, with
# ExecStart naming PREFIX/bin/cis490.
install_unit() {
	local name=$1 tmp
	tmp=$(mktemp)
	sed "s|/usr/local/bin/cis490|$bindir/cis490|g" "$kit/systemd/$name" >"$tmp"
	put "$tmp" "$DESTDIR$unitdir/$name" 0644
	if ((wrote)); then touched+=("$name"); fi
	rm -f "$tmp"
}

# config_group prints the service group, or nothing in a staged install for
# a group this machine does not know (the group is then left alone).
config_group() {
	if getent group "$SERVICE_GROUP" >/dev/null 2>&1; then
		printf '%s\n' "$SERVICE_GROUP"
	elif [ -z "$DESTDIR" ]; then
		die "group $SERVICE_GROUP does not exist: cannot give it /etc/cis490"
	fi
}

# config_dir DIR creates DIR under /etc/cis490 if it is missing, owned by
# root and group SERVICE_GROUP, mode 0750: the daemons read it, nobody else.
config_dir() {
	local d=$DESTDIR$1 group
	group=$(config_group)
	if [ ! -d "$d" ]; then
		changed=$((changed + 1))
		say "created $d"
	fi
	if [ -n "$group" ]; then
		install -d -m 0750 -g "$group" "$d"
	else
		install -d -m 0750 "$d"
	fi
}

# install_config TEMPLATE NAME UNIT installs TEMPLATE as /etc/cis490/NAME
# only if NAME does not exist: a configuration on disk is the operator's.
# UNIT, which reads it, counts as changed when it is written.
install_config() {
	local from=$kit/$1 to=$DESTDIR$confdir/$2 unit=$3
	config_dir "$confdir"
	if [ -e "$to" ]; then
		say "kept $to (an existing configuration is never overwritten)"
		return
	fi
	put "$from" "$to" 0640 "$(config_group)"
	touched+=("$unit")
	say "edit $to before enabling the service"
}

# state_dir DIR MODE creates DIR under /var/lib/cis490, owned by the service
# user, if it is missing, and makes its mode and owner right. In a staged
# install for a user this machine does not know, the owner is left alone.
state_dir() {
	local d=$DESTDIR$1 mode=$2
	if [ ! -d "$d" ]; then
		changed=$((changed + 1))
		say "created $d"
	fi
	if id -u "$SERVICE_USER" >/dev/null 2>&1; then
		install -d -m "$mode" -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$d"
	elif [ -n "$DESTDIR" ]; then
		install -d -m "$mode" "$d"
	else
		die "user $SERVICE_USER does not exist: cannot own $d"
	fi
}

# as_service_user runs a command as SERVICE_USER: directly when it is that
# user already, or in a staged install for a user this machine does not know.
as_service_user() {
	if [ "$(id -un)" = "$SERVICE_USER" ]; then
		"$@"
	elif ! id -u "$SERVICE_USER" >/dev/null 2>&1 && [ -n "$DESTDIR" ]; then
		say "no user $SERVICE_USER on this machine: running as $(id -un) in the staged install"
		"$@"
	else
		runuser -u "$SERVICE_USER" -- "$@"
	fi
}

# restart_enabled UNIT... reloads systemd, then restarts each unit that is
# enabled and that this run changed (a new binary, its unit file, or a
# configuration it reads written), so that the change runs at once, not at
# the next boot. A run that changed nothing restarts nothing: an upload in
# flight goes on. Units not enabled are left alone: the operator enables
# them once the configuration is written.
restart_enabled() {
	if ((${#systemctl_cmd[@]} == 0)); then
		say "not calling systemctl (DESTDIR set, or systemd is not running); restart by hand: systemctl restart $*"
		return
	fi
	"${systemctl_cmd[@]}" daemon-reload || die "systemctl daemon-reload failed"
	local u why t
	for u in "$@"; do
		if "${systemctl_cmd[@]}" is-enabled --quiet "$u"; then
			why=""
			if ((new_bin)); then why="new binary"; fi
			for t in "${touched[@]}"; do
				if [ "$t" = "$u" ]; then why="${why:+$why, }its unit or configuration written"; fi
			done
			if [ -z "$why" ]; then
				say "$u unchanged: not restarted"
				continue
			fi
			"${systemctl_cmd[@]}" restart "$u" || die "systemctl restart $u failed: see journalctl -u $u"
			say "restarted $u ($why)"
		else
			say "$u is not enabled: not restarted (enable it with: systemctl enable --now $u)"
		fi
	done
}

# finish prints the run's outcome.
finish() {
	if ((changed == 0)); then
		say "done: nothing changed"
	else
		say "done: $changed file(s) or directories written"
	fi
}
