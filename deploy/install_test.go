package deploy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// kitFiles are the files of deploy/ the install scripts ship; hub/nats-server.conf
// is added by the tests that want it.
var kitFiles = []string{
	"install-lab-host.sh", "install-hub.sh", "install-lib.sh",
	"lab-host.toml.example", "receiver.toml.example",
	"systemd/cis490-publisher.service", "systemd/cis490-receiver.service", "systemd/cis490-hub.service",
}

// installEnv is one install in a temporary root: a copy of the kit with a
// cis490 binary beside it as in a checkout (src/deploy, src/bin/cis490),
// the staging root DESTDIR, and fake systemctl, getent and useradd that log
// their argv. The service user is the user running the test, so that the
// scripts' chown works without root; the fake getent does not know it until
// the fake useradd has "created" it.
type installEnv struct {
	dir     string // everything lives here
	kit     string // src/deploy
	root    string // DESTDIR
	enabled string // unit names systemctl is-enabled answers yes for, one a line
	user    string
	group   string
}

func newInstallEnv(t testing.TB) *installEnv {
	t.Helper()
	dir := t.TempDir()
	e := &installEnv{
		dir:     dir,
		kit:     filepath.Join(dir, "src", "deploy"),
		root:    filepath.Join(dir, "root"),
		enabled: filepath.Join(dir, "enabled"),
	}
	for _, f := range kitFiles {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f, ".sh") {
			mode = 0o755
		}
		copyFile(t, f, filepath.Join(e.kit, f), mode)
	}
	copyFile(t, cis490Bin, filepath.Join(dir, "src", "bin", "cis490"), 0o755)
	if err := os.WriteFile(e.enabled, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	e.user, e.group = u.Username, g.Name
	e.fake(t, "systemctl", `printf '%s\n' "$*" >>"$D/systemctl.log"
if [ "$1" = is-enabled ]; then grep -qx "$3" "$D/enabled"; fi`)
	e.fake(t, "getent", `[ "$1" = passwd ] && grep "^$2:" "$D/passwd"`)
	e.fake(t, "useradd", `printf '%s\n' "$*" >>"$D/useradd.log"
for last; do :; done
printf '%s:x:999:999::/var/lib/cis490:/usr/sbin/nologin\n' "$last" >>"$D/passwd"`)
	return e
}

// fake writes an executable sh script named name into the env's dir, with
// $D set to that dir.
func (e *installEnv) fake(t testing.TB, name, body string) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\nD=%q\n%s\n", e.dir, body)
	writeFile(t, filepath.Join(e.dir, name), []byte(script), 0o755)
}

// run runs script with the env's settings and extra NAME=value pairs,
// returning its combined output and error.
func (e *installEnv) run(t testing.TB, script string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(script)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.dir,
		"DESTDIR=" + e.root,
		"SERVICE_USER=" + e.user,
		"SERVICE_GROUP=" + e.group,
		"SYSTEMCTL=" + filepath.Join(e.dir, "systemctl"),
		"GETENT=" + filepath.Join(e.dir, "getent"),
		"USERADD=" + filepath.Join(e.dir, "useradd"),
	}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on an error.
func (e *installEnv) mustRun(t testing.TB, script string, env ...string) string {
	t.Helper()
	out, err := e.run(t, script, env...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// installed returns the path of an installed file in the staging root.
func (e *installEnv) installed(p string) string { return filepath.Join(e.root, p) }

// calls returns the lines of a fake's log (systemctl.log, useradd.log) and
// empties it.
func (e *installEnv) calls(t testing.TB, log string) []string {
	t.Helper()
	p := filepath.Join(e.dir, log)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (e *installEnv) enable(t testing.TB, units ...string) {
	t.Helper()
	if err := os.WriteFile(e.enabled, []byte(strings.Join(units, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every entry under root with its type and mode, owner,
// and for a file its size, mtime and SHA-256: two equal snapshots mean
// nothing was written, not even the same bytes again.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fmt.Sprintf("%v uid=%d gid=%d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" size=%d mtime=%d sha256=%x", fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(b))
		}
		rel, _ := filepath.Rel(root, p)
		snap[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// requireSameTree fails with every difference between two snapshots.
func requireSameTree(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for p, a := range after {
		if b, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p+": "+a)
		} else if a != b {
			diffs = append(diffs, "changed "+p+": "+b+" -> "+a)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diffs = append(diffs, "removed "+p)
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Fatalf("%s changed the tree:\n%s", what, strings.Join(diffs, "\n"))
	}
}

func requireMode(t testing.TB, p string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetgid); got != want {
		t.Errorf("mode of %s = %v, want %v", p, got, want)
	}
}

func requireSameFile(t testing.TB, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(x) != string(y) {
		t.Errorf("%s differs from %s", a, b)
	}
}

func requireCalls(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s calls = %q, want %q", what, got, want)
	}
}

// TestInstallLabHost installs a lab host from zero, runs the script again
// (nothing changes), then runs it from the install directory itself, where
// every source is its own destination: the old installer's `cp` onto itself
// aborted there under set -e before the units were installed or anything
// restarted.
func TestInstallLabHost(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	script := filepath.Join(e.kit, "install-lab-host.sh")

	out := e.mustRun(t, script)
	for _, f := range append([]string{"usr/local/bin/cis490"}, kitFiles...) {
		from := filepath.Join(e.kit, f)
		if f == "usr/local/bin/cis490" {
			from = cis490Bin
		}
		to := e.installed(f)
		if f != "usr/local/bin/cis490" {
			to = e.installed(filepath.Join("usr/local/share/cis490", f))
		}
		requireSameFile(t, from, to)
	}
	requireSameFile(t, "systemd/cis490-publisher.service", e.installed("etc/systemd/system/cis490-publisher.service"))
	requireSameFile(t, "lab-host.toml.example", e.installed("etc/cis490/lab-host.toml"))
	requireMode(t, e.installed("usr/local/bin/cis490"), 0o755)
	requireMode(t, e.installed("usr/local/share/cis490/install-lab-host.sh"), 0o755)
	requireMode(t, e.installed("etc/systemd/system/cis490-publisher.service"), 0o644)
	requireMode(t, e.installed("etc/cis490"), 0o750)
	requireMode(t, e.installed("etc/cis490/lab-host.toml"), 0o640)
	requireMode(t, e.installed("var/lib/cis490"), 0o750)
	requireMode(t, e.installed("var/lib/cis490/episodes"), fs.ModeSetgid|0o770)
	requireMode(t, e.installed("etc/cis490/tls"), 0o750)
	if _, err := os.Stat(e.installed("etc/systemd/system/cis490-hub.service")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a lab host got the hub's unit: %v", err)
	}
	requireCalls(t, "useradd", e.calls(t, "useradd.log"), []string{
		"--system --user-group --home-dir /var/lib/cis490 --no-create-home --shell /usr/sbin/nologin --comment cis490 daemons " + e.user,
	})
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload", "is-enabled --quiet cis490-publisher.service",
	})
	if !strings.Contains(out, "cis490-publisher.service is not enabled: not restarted") {
		t.Errorf("first run does not say the publisher was not restarted:\n%s", out)
	}

	first := snapshot(t, e.root)
	out = e.mustRun(t, script)
	requireSameTree(t, "a second run", first, snapshot(t, e.root))
	if !strings.Contains(out, "done: nothing changed") {
		t.Errorf("second run does not say nothing changed:\n%s", out)
	}
	requireCalls(t, "useradd", e.calls(t, "useradd.log"), nil)
	e.calls(t, "systemctl.log")

	// From the install directory, with the publisher enabled: nothing is
	// copied onto itself, and the publisher, unchanged, is not restarted.
	e.enable(t, "cis490-publisher.service")
	again := e.installed("usr/local/share/cis490/install-lab-host.sh")
	out = e.mustRun(t, again)
	requireSameTree(t, "a run from the install directory", first, snapshot(t, e.root))
	if !strings.Contains(out, "running from the install directory") {
		t.Errorf("a run from the install directory does not say so:\n%s", out)
	}
	if !strings.Contains(out, "cis490-publisher.service unchanged: not restarted") {
		t.Errorf("a run that changed nothing does not say the publisher was left running:\n%s", out)
	}
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload", "is-enabled --quiet cis490-publisher.service",
	})

	// The old bug's damage: units missing. A run from the install
	// directory puts them back and restarts.
	if err := os.Remove(e.installed("etc/systemd/system/cis490-publisher.service")); err != nil {
		t.Fatal(err)
	}
	out = e.mustRun(t, again)
	if !strings.Contains(out, "restarted cis490-publisher.service (its unit or configuration written)") {
		t.Errorf("a run that wrote the unit does not say why it restarted it:\n%s", out)
	}
	requireSameFile(t, "systemd/cis490-publisher.service", e.installed("etc/systemd/system/cis490-publisher.service"))
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload", "is-enabled --quiet cis490-publisher.service", "restart cis490-publisher.service",
	})
}

// TestInstallLabHostNewBinary replaces an installed binary with a new one
// and restarts the enabled publisher onto it.
func TestInstallLabHostNewBinary(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	script := filepath.Join(e.kit, "install-lab-host.sh")
	e.mustRun(t, script)
	e.calls(t, "systemctl.log")

	// A different binary: the same one with bytes appended still runs.
	newBin := filepath.Join(e.dir, "cis490-new")
	copyFile(t, cis490Bin, newBin, 0o755)
	f, err := os.OpenFile(newBin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new build")
	f.Close()
	e.enable(t, "cis490-publisher.service")
	out := e.mustRun(t, script, "CIS490_BIN="+newBin)
	requireSameFile(t, newBin, e.installed("usr/local/bin/cis490"))
	if !strings.Contains(out, "installed "+e.installed("usr/local/bin/cis490")) || !strings.Contains(out, "restarted cis490-publisher.service (new binary)") {
		t.Errorf("output does not name the new binary and the restart for it:\n%s", out)
	}
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload", "is-enabled --quiet cis490-publisher.service", "restart cis490-publisher.service",
	})
}

// writeEpisode writes an episode directory with meta.json.
func writeEpisode(t testing.TB, dir, meta string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInstallLabHostKeepsConfigAndDrains installs over an existing
// lab-host.toml with its own data_dir holding a stamped and an unstamped
// episode: the file is kept byte for byte, and the unstamped episode is
// drained into that data_dir's quarantine.
func TestInstallLabHostKeepsConfigAndDrains(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	conf := "# lab7, edited by the operator\nhost_id = \"lab7\"\ndata_dir = \"/srv/lab7\"\n\n[ship]\nconcurrency = 4\n"
	confPath := e.installed("etc/cis490/lab-host.toml")
	if err := os.MkdirAll(filepath.Dir(confPath), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	data := e.installed("srv/lab7")
	writeEpisode(t, filepath.Join(data, "episodes", "ep-old"),
		`{"episode_id":"ep-old","recorded_at":"2026-11-20T14:03:11Z"}`)
	writeEpisode(t, filepath.Join(data, "episodes", "ep-new"),
		`{"episode_id":"ep-new","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"0123456789abcdef0123456789abcdef01234567","branch":"main","dirty":false}}`)

	out := e.mustRun(t, filepath.Join(e.kit, "install-lab-host.sh"))
	got, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != conf {
		t.Errorf("existing lab-host.toml was changed:\n%s\nwant\n%s", got, conf)
	}
	if !strings.Contains(out, "kept "+confPath) {
		t.Errorf("output does not say the configuration was kept:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "quarantine", "ep-old", "quarantine_reason.json")); err != nil {
		t.Errorf("unstamped episode not drained: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "episodes", "ep-new", "meta.json")); err != nil {
		t.Errorf("stamped episode moved: %v\n%s", err, out)
	}
	if !strings.Contains(out, "kept 1, quarantined 1") {
		t.Errorf("output lacks the drain's count:\n%s", out)
	}
}

// TestInstallHub installs a hub from a kit without hub/nats-server.conf
// (it says what to do), then from one with it and a file it includes, and
// checks which units are
// restarted: only the enabled ones, the hub before the receiver.
func TestInstallHub(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	script := filepath.Join(e.kit, "install-hub.sh")
	e.enable(t, "cis490-receiver.service")

	out := e.mustRun(t, script)
	for _, u := range []string{"cis490-hub.service", "cis490-receiver.service"} {
		requireSameFile(t, filepath.Join("systemd", u), e.installed(filepath.Join("etc/systemd/system", u)))
	}
	if _, err := os.Stat(e.installed("etc/systemd/system/cis490-publisher.service")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the hub got the publisher's unit: %v", err)
	}
	requireSameFile(t, "receiver.toml.example", e.installed("etc/cis490/receiver.toml"))
	requireMode(t, e.installed("etc/cis490/receiver.toml"), 0o640)
	requireMode(t, e.installed("var/lib/cis490/hub"), 0o750)
	if _, err := os.Stat(e.installed("etc/cis490/nats-server.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nats-server.conf installed from a kit without one: %v", err)
	}
	if !strings.Contains(out, "has no hub/nats-server.conf") {
		t.Errorf("output does not warn about the missing nats-server.conf:\n%s", out)
	}
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload",
		"is-enabled --quiet cis490-hub.service",
		"is-enabled --quiet cis490-receiver.service", "restart cis490-receiver.service",
	})

	requireMode(t, e.installed("etc/cis490/tls"), 0o750)

	// Now the kit has the hub's config, a nats-server.conf and a file it
	// includes: each is installed once, and never over an existing one.
	hubConf := "# test hub config\ninclude \"site.conf\"\njetstream { store_dir: $STORE }\n"
	siteConf := "STORE: \"/var/lib/cis490/hub\"\n"
	if err := os.MkdirAll(filepath.Join(e.kit, "hub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.kit, "hub", "nats-server.conf"), []byte(hubConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.kit, "hub", "site.conf"), []byte(siteConf), 0o644); err != nil {
		t.Fatal(err)
	}
	// A sample users.conf is never installed: provision keeps the hosts a
	// users.conf lists, so the sample's hosts would stay forever.
	if err := os.WriteFile(filepath.Join(e.kit, "hub", "users.conf"), []byte("# sample: hosts lab1 lab2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.enable(t, "cis490-hub.service", "cis490-receiver.service")
	out = e.mustRun(t, script)
	for _, f := range []string{"nats-server.conf", "site.conf"} {
		requireSameFile(t, filepath.Join(e.kit, "hub", f), e.installed("etc/cis490/"+f))
		requireSameFile(t, filepath.Join(e.kit, "hub", f), e.installed("usr/local/share/cis490/hub/"+f))
		requireMode(t, e.installed("etc/cis490/"+f), 0o640)
	}
	if strings.Contains(out, "has no hub/nats-server.conf") {
		t.Errorf("output warns about a nats-server.conf that is there:\n%s", out)
	}
	for _, p := range []string{"etc/cis490/users.conf", "usr/local/share/cis490/hub/users.conf"} {
		if _, err := os.Stat(e.installed(p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("sample users.conf installed as %s: %v", p, err)
		}
	}
	if !strings.Contains(out, "cis490 hub provision --host NAME... --no-apply --out /etc/cis490/users.conf") {
		t.Errorf("output does not say how to write users.conf:\n%s", out)
	}
	// The hub's configuration was written: the hub restarts, the receiver,
	// unchanged, does not.
	requireCalls(t, "systemctl", e.calls(t, "systemctl.log"), []string{
		"daemon-reload",
		"is-enabled --quiet cis490-hub.service", "restart cis490-hub.service",
		"is-enabled --quiet cis490-receiver.service",
	})

	edited := hubConf + "# users for lab1 added by the operator\n"
	if err := os.WriteFile(e.installed("etc/cis490/nats-server.conf"), []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, e.root)
	out = e.mustRun(t, e.installed("usr/local/share/cis490/install-hub.sh"))
	requireSameTree(t, "a run from the install directory", before, snapshot(t, e.root))
	if !strings.Contains(out, "nats-server.conf differs from this kit's; compare: diff -u") {
		t.Errorf("output does not point at the edited nats-server.conf:\n%s", out)
	}
}

// TestInstallPrefix installs under another PREFIX: the units' ExecStart
// names the binary there.
func TestInstallPrefix(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	e.mustRun(t, filepath.Join(e.kit, "install-hub.sh"), "PREFIX=/opt/cis490")
	requireSameFile(t, cis490Bin, e.installed("opt/cis490/bin/cis490"))
	unit, err := os.ReadFile(e.installed("etc/systemd/system/cis490-hub.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart=/opt/cis490/bin/cis490 hub ") || strings.Contains(string(unit), "/usr/local/bin") {
		t.Errorf("unit under PREFIX=/opt/cis490:\n%s", unit)
	}
	// Again from the install directory under that prefix.
	before := snapshot(t, e.root)
	e.mustRun(t, e.installed("opt/cis490/share/cis490/install-hub.sh"), "PREFIX=/opt/cis490")
	requireSameTree(t, "a run from the install directory", before, snapshot(t, e.root))
}

// TestInstallErrors: bad input stops the script with exit 2 and a message
// naming what is wrong.
func TestInstallErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		env    []string
		setup  func(t *testing.T, e *installEnv)
		want   string
	}{
		{
			name:   "relative prefix",
			script: "install-hub.sh",
			env:    []string{"PREFIX=usr/local"},
			want:   "PREFIX=usr/local: want an absolute path",
		},
		{
			name:   "missing binary",
			script: "install-lab-host.sh",
			env:    []string{"CIS490_BIN=/nonexistent/cis490"},
			want:   "CIS490_BIN=/nonexistent/cis490: no such file",
		},
		{
			name:   "binary for another machine",
			script: "install-hub.sh",
			setup: func(t *testing.T, e *installEnv) {
				// What a binary of the wrong architecture does: fail to execute.
				writeFile(t, filepath.Join(e.dir, "src", "bin", "cis490"), []byte("\x7fELF not for this machine"), 0o755)
			},
			want: "does not run on this machine",
		},
		{
			name:   "no binary at all",
			script: "install-lab-host.sh",
			setup: func(t *testing.T, e *installEnv) {
				if err := os.Remove(filepath.Join(e.dir, "src", "bin", "cis490")); err != nil {
					t.Fatal(err)
				}
			},
			want: "no cis490 binary: run 'make build'",
		},
		{
			name:   "invalid existing config",
			script: "install-lab-host.sh",
			setup: func(t *testing.T, e *installEnv) {
				p := e.installed("etc/cis490/lab-host.toml")
				os.MkdirAll(filepath.Dir(p), 0o750)
				if err := os.WriteFile(p, []byte("host_id = \"lab1\"\ndata_dri = \"/x\"\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: "lab-host.toml is not valid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newInstallEnv(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			out, err := e.run(t, filepath.Join(e.kit, tt.script), tt.env...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("%s: %v, want exit 2\n%s", tt.script, err, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("%s output lacks %q:\n%s", tt.script, tt.want, out)
			}
			if _, err := os.Stat(e.installed("etc/systemd/system")); err == nil && tt.name != "invalid existing config" {
				t.Errorf("units installed despite the error")
			}
		})
	}
}

// TestShellcheck keeps the install scripts shellcheck-clean.
func TestShellcheck(t *testing.T) {
	t.Parallel()
	sc := requireTool(t, "shellcheck", "shellcheck")
	cmd := exec.Command(sc, "--external-sources", "install-lab-host.sh", "install-hub.sh", "install-lib.sh")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// TestInstallStagedUnknownUser stages an install for a service user this
// machine does not have, with no systemctl, getent or useradd given, as a
// package build would: the files are installed, nothing is run on the
// system, and the output says what was left out.
func TestInstallStagedUnknownUser(t *testing.T) {
	t.Parallel()
	e := newInstallEnv(t)
	out := e.mustRun(t, filepath.Join(e.kit, "install-lab-host.sh"),
		"SERVICE_USER=cis490-no-such-user", "SERVICE_GROUP=cis490-no-such-user", "SYSTEMCTL=", "GETENT=", "USERADD=")
	requireSameFile(t, "lab-host.toml.example", e.installed("etc/cis490/lab-host.toml"))
	requireMode(t, e.installed("var/lib/cis490/episodes"), fs.ModeSetgid|0o770)
	for _, want := range []string{
		"not checking for user cis490-no-such-user",
		"no user cis490-no-such-user on this machine: running as",
		"kept 0, quarantined 0",
		"not calling systemctl",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, log := range []string{"systemctl.log", "useradd.log"} {
		if calls := e.calls(t, log); calls != nil {
			t.Errorf("%s = %q, want no calls", log, calls)
		}
	}
}
