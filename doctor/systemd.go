package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// SystemdBootedDir exists when PID 1 is systemd: the test of sd_booted(3).
const SystemdBootedDir = "/run/systemd/system"

// systemctlTimeout bounds systemctl is-active.
const systemctlTimeout = 3 * time.Second

// Systemd is the "systemd" row: whether unit is active, from
// `systemctl is-active unit`. It is skipped where there is no systemctl in
// PATH, or where systemd is not PID 1 (no SystemdBootedDir: a container, a
// laptop running the publisher by hand). Active is green; activating,
// reloading or deactivating yellow; anything else (inactive, failed, not
// installed) red, since nothing ships.
func Systemd(ctx context.Context, unit string) Row {
	return systemd(ctx, unit, "systemctl", SystemdBootedDir)
}

// systemd is Systemd with the systemctl command and the booted directory
// as parameters, for tests.
func systemd(ctx context.Context, unit, systemctl, bootedDir string) Row {
	path, err := exec.LookPath(systemctl)
	if err != nil {
		return skip("systemd", "no systemctl on this host")
	}
	if _, err := os.Stat(bootedDir); err != nil {
		return skip("systemd", "systemd is not PID 1 here (no "+bootedDir+")")
	}
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "is-active", unit).Output()
	state := strings.TrimSpace(string(out))
	if ctx.Err() != nil {
		r := row("systemd", Yellow, fmt.Sprintf("systemctl is-active %s gave no answer within %s", unit, systemctlTimeout))
		r.Fix = "systemctl status " + unit
		return r
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		r := row("systemd", Yellow, fmt.Sprintf("systemctl is-active %s: %v", unit, err))
		r.Fix = "systemctl status " + unit
		return r
	}
	if state == "" {
		state = "unknown"
	}
	r := row("systemd", Red, fmt.Sprintf("%s is %s: nothing ships", unit, state))
	r.Details["unit"] = unit
	r.Details["state"] = state
	switch state {
	case "active":
		r.Status, r.Summary = Green, unit+" is active"
	case "activating", "reloading", "deactivating", "refreshing":
		r.Status, r.Summary = Yellow, fmt.Sprintf("%s is %s", unit, state)
		r.Fix = "journalctl -u " + unit + " -n 50"
	case "failed":
		r.Fix = "journalctl -u " + unit + " -n 50 (why it failed), then sudo systemctl restart " + unit
	default:
		r.Fix = "sudo systemctl enable --now " + unit
	}
	return r
}

// HubSystemd is the hub's "systemd" row: whether cis490-hub and
// cis490-receiver are active, checked as Systemd does each. A unit not
// installed on this machine is left out, since doctor --hub also runs away
// from the hub (the admin's laptop); with neither installed, or no
// systemd as PID 1, the row is skipped. The row takes the worst status of
// the two, and the fix of the worst.
func HubSystemd(ctx context.Context) Row {
	return hubSystemd(ctx, []string{HubUnit, ReceiverUnit}, "systemctl", SystemdBootedDir)
}

func hubSystemd(ctx context.Context, units []string, systemctl, bootedDir string) Row {
	path, err := exec.LookPath(systemctl)
	if err != nil {
		return skip("systemd", "no systemctl on this host")
	}
	if _, err := os.Stat(bootedDir); err != nil {
		return skip("systemd", "systemd is not PID 1 here (no "+bootedDir+")")
	}
	var rows []Row
	for _, u := range units {
		sctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
		out, err := exec.CommandContext(sctx, path, "show", "--property=LoadState", "--value", u).Output()
		cancel()
		if err == nil && strings.TrimSpace(string(out)) == "not-found" {
			continue // not installed on this machine
		}
		rows = append(rows, systemd(ctx, u, path, bootedDir))
	}
	if len(rows) == 0 {
		return skip("systemd", strings.Join(units, " and ")+" are not installed on this machine (doctor --hub run away from the hub)")
	}
	r := rows[0]
	summaries := []string{r.Summary}
	for _, o := range rows[1:] {
		summaries = append(summaries, o.Summary)
		if o.Status.severity() > r.Status.severity() {
			r.Status, r.Fix, r.Details = o.Status, o.Fix, o.Details
		}
	}
	r.Summary = strings.Join(summaries, "; ")
	return r
}
