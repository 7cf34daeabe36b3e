package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// units are the systemd units in systemd/, with the cis490 subcommand each runs.
var units = []struct {
	name, command string
}{
	{"cis490-publisher.service", "publish"},
	{"cis490-receiver.service", "receive"},
	{"cis490-hub.service", "hub"},
}

// unitRoot builds a root directory for systemd-analyze --root: the host's
// own unit library (sysinit.target and friends), our units in
// /etc/systemd/system, the cis490 binary at the path ExecStart names and
// /bin/kill for ExecReload, so that verify checks the units as they are
// installed.
func unitRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	sys := filepath.Join(root, "usr", "lib", "systemd")
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", sys).CombinedOutput(); err != nil {
		t.Fatalf("copy the host's unit library: %v\n%s", err, out)
	}
	etc := filepath.Join(root, "etc", "systemd", "system")
	copyFile(t, cis490Bin, filepath.Join(root, "usr", "local", "bin", "cis490"), 0o755)
	// The hub's ExecReload sends SIGHUP with the system's kill, which every
	// Debian has (procps): the host's copy stands in for it.
	copyFile(t, "/bin/kill", filepath.Join(root, "bin", "kill"), 0o755)
	for _, u := range units {
		copyFile(t, filepath.Join("systemd", u.name), filepath.Join(etc, u.name), 0o644)
	}
	return root
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b, mode)
}

// writeFile is os.WriteFile under syscall.ForkLock. The tests run in
// parallel and start processes: a fork while a file is open for writing
// hands the child a copy of the descriptor until its exec, and executing
// that file then fails with "text file busy" (golang/go#22315). A script
// or binary written here is executed by the install scripts' tests.
func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	syscall.ForkLock.Lock()
	err := os.WriteFile(path, data, mode)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

// TestUnitsVerify runs systemd-analyze verify on every unit as installed.
// verify exits 0 on an unknown key or a value it cannot parse (it ignores
// the line), so any output at all is a failure too.
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	sa := requireTool(t, "systemd-analyze", "systemd")
	root := unitRoot(t)
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			out, err := exec.Command(sa, "verify", "--root="+root, u.name).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("systemd-analyze verify --root=%s %s: %v\n%s", root, u.name, err, out)
			}
		})
	}
}

// TestUnitsVerifyCatchesAMissingBinary shows that TestUnitsVerify checks
// ExecStart: without the binary in the root, verify fails.
func TestUnitsVerifyCatchesAMissingBinary(t *testing.T) {
	t.Parallel()
	sa := requireTool(t, "systemd-analyze", "systemd")
	root := unitRoot(t)
	if err := os.Remove(filepath.Join(root, "usr", "local", "bin", "cis490")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--root="+root, "cis490-hub.service").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/usr/local/bin/cis490") {
		t.Fatalf("verify without the binary: %v\n%s\nwant a failure naming /usr/local/bin/cis490", err, out)
	}
}

// exposureRE matches systemd-analyze security's summary line.
var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestUnitsExposure keeps the sandbox from being weakened: systemd-analyze
// security scores each unit's exposure from 0 (locked down) to 10; ours
// score 1.4 (systemd 252), and anything above 2.0 fails.
func TestUnitsExposure(t *testing.T) {
	t.Parallel()
	sa := requireTool(t, "systemd-analyze", "systemd")
	root := unitRoot(t)
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", "--root="+root, u.name).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security %s: %v\n%s", u.name, err, out)
			}
			m := exposureRE.FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security %s: no exposure level in\n%s", u.name, out)
			}
			level, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			if level > 2.0 {
				t.Errorf("%s: exposure %.1f, want at most 2.0:\n%s", u.name, level, out)
			}
		})
	}
}

// unitSettings reads a unit file's [Service] assignments; a key set more
// than once keeps every value.
func unitSettings(t testing.TB, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", path, line)
			}
			got[k] = append(got[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestUnitsSettings checks what the deployment issue asks of every unit,
// which verify cannot know: notify and watchdog, restart policy, the
// dedicated user, the directories and the sandbox.
func TestUnitsSettings(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"Type":                       "notify",
		"NotifyAccess":               "main",
		"WatchdogSec":                "180",
		"Restart":                    "on-failure",
		"RestartPreventExitStatus":   "78",
		"User":                       "cis490",
		"Group":                      "cis490",
		"ConfigurationDirectory":     "cis490",
		"ProtectSystem":              "strict",
		"ReadWritePaths":             "/var/lib/cis490",
		"ReadOnlyPaths":              "/etc/cis490",
		"NoNewPrivileges":            "yes",
		"PrivateTmp":                 "yes",
		"PrivateDevices":             "yes",
		"ProtectHome":                "yes",
		"ProtectKernelTunables":      "yes",
		"ProtectKernelModules":       "yes",
		"ProtectKernelLogs":          "yes",
		"ProtectControlGroups":       "yes",
		"CapabilityBoundingSet":      "",
		"AmbientCapabilities":        "",
		"RestrictAddressFamilies":    "AF_UNIX AF_INET AF_INET6",
		"RestrictNamespaces":         "yes",
		"RestrictSUIDSGID":           "yes",
		"MemoryDenyWriteExecute":     "yes",
		"SystemCallArchitectures":    "native",
		"LockPersonality":            "yes",
		"ProtectClock":               "yes",
		"ProtectHostname":            "yes",
		"RestrictRealtime":           "yes",
		"StateDirectoryMode":         "0750",
		"ConfigurationDirectoryMode": "0750",
	}
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			got := unitSettings(t, filepath.Join("systemd", u.name))
			for k, v := range want {
				if len(got[k]) != 1 || got[k][0] != v {
					t.Errorf("%s: %s = %q, want exactly one %s=%s", u.name, k, got[k], k, v)
				}
			}
			if sd := got["StateDirectory"]; len(sd) != 1 || !strings.HasPrefix(sd[0], "cis490") {
				t.Errorf("%s: StateDirectory = %q, want cis490 first", u.name, sd)
			}
		})
	}
}

// TestUnitsExecStart runs each unit's ExecStart command line with --help
// added: cobra refuses an unknown flag even then, so a unit
// naming a flag the binary does not have fails here, not on the Pi.
func TestUnitsExecStart(t *testing.T) {
	t.Parallel()
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			exec0 := unitSettings(t, filepath.Join("systemd", u.name))["ExecStart"]
			if len(exec0) != 1 {
				t.Fatalf("%s: ExecStart = %q, want one", u.name, exec0)
			}
			args := strings.Fields(exec0[0])
			if args[0] != "/usr/local/bin/cis490" || len(args) < 2 || args[1] != u.command {
				t.Fatalf("%s: ExecStart = %q, want /usr/local/bin/cis490 %s ...", u.name, exec0[0], u.command)
			}
			out, err := exec.Command(cis490Bin, append(args[1:], "--help")...).CombinedOutput()
			if err != nil {
				t.Fatalf("cis490 %s --help: %v\n%s", strings.Join(args[1:], " "), err, out)
			}
			// An unknown subcommand with --help prints the root's help and exits 0.
			if usage := "cis490 " + u.command + " [flags]"; !strings.Contains(string(out), usage) {
				t.Fatalf("cis490 %s --help does not print %q:\n%s", strings.Join(args[1:], " "), usage, out)
			}
			for _, a := range args[2:] {
				if strings.HasPrefix(a, "/etc/") && !strings.HasPrefix(a, "/etc/cis490/") {
					t.Errorf("%s: %s is outside /etc/cis490, the ConfigurationDirectory", u.name, a)
				}
				if strings.HasPrefix(a, "/var/") && !strings.HasPrefix(a, "/var/lib/cis490") {
					t.Errorf("%s: %s is outside /var/lib/cis490, the only writable path", u.name, a)
				}
			}
		})
	}
}
