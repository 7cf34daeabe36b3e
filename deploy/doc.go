// Package deploy holds what installs cis490 on a lab host and on the hub,
// and the tests that check it:
//
//   - systemd/: the units cis490-publisher.service (lab host),
//     cis490-hub.service and cis490-receiver.service (hub): Type=notify with
//     a progress-gated watchdog, a dedicated cis490 user and a sandbox in
//     which only /var/lib/cis490 is writable;
//   - install-lab-host.sh, install-hub.sh (and install-lib.sh, which both
//     source): idempotent installers that also work when run again from the
//     install directory, PREFIX/share/cis490;
//   - lab-host.toml.example, receiver.toml.example: the commented
//     configuration templates, written by `cis490 config default`.
//
// The tests run systemd-analyze verify and security on the units as
// installed, shellcheck on the scripts, and the scripts themselves in a
// temporary root with fake systemctl, getent and useradd. docs/deploy.md
// walks through an installation.
package deploy
