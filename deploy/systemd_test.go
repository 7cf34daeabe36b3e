package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemdRootfsEnv names the root file system tar (mmdebstrap's, made by
// deploy/testdata/rootfs.sh) that TestSystemd boots; unset, the test is
// skipped. `make test-systemd` sets it.
const systemdRootfsEnv = "CIS490_SYSTEMD_ROOTFS"

// acceptedCommit is the recording code's commit in the hub's window.
const acceptedCommit = "5c1e5c1e5c1e5c1e5c1e5c1e5c1e5c1e5c1e5c1e"

// TestSystemd installs cis490 as an operator would, on two machines booted
// with systemd as PID 1 (systemd-nspawn): a hub at 10.90.0.1 running
// cis490-hub and cis490-receiver, and lab host lab1 at 10.90.0.2 running
// cis490-publisher, joined by a veth pair. The kit is run unmodified
// (deploy/install-hub.sh, deploy/install-lab-host.sh), the certificates are
// made by the commands in docs/security.md, the configuration edited as
// docs/deploy.md says. Then the units are checked under systemd: notify and
// status, episodes shipped exactly once, the doctor, the watchdog on each
// daemon, a stop mid-upload, the sandbox, bad configuration, updates, and
// the journal.
//
// One drop-in shortens the watchdog from the shipped 180 s to 10 s
// (WatchdogSec only), so that a hang is caught in a test's time.
func TestSystemd(t *testing.T) {
	rootfs := os.Getenv(systemdRootfsEnv)
	if rootfs == "" {
		t.Skipf("%s is not set: make test-systemd boots the units under systemd", systemdRootfsEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s is set but this is not root: systemd-nspawn needs root", systemdRootfsEnv)
	}
	requireTool(t, "systemd-nspawn", "systemd-container")
	requireTool(t, "nsenter", "util-linux")
	logDir := os.Getenv("CIS490_SYSTEMD_LOGS")
	if logDir == "" {
		logDir = t.TempDir()
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Two builds: the one installed first, and a newer one to update to.
	// Static, like the release binaries (make cross).
	bins := t.TempDir()
	for _, v := range []string{"systemd-test-1", "systemd-test-2"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+v, "-o", filepath.Join(bins, v), "../cmd/cis490")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}

	hubNS, labNS := testNetwork(t)
	start := time.Now()
	hub := bootMachine(t, "hub", rootfs, hubNS, logDir)
	lab := bootMachine(t, "lab1", rootfs, labNS, logDir)
	t.Logf("both machines booted in %.1fs", time.Since(start).Seconds())

	s := &systemdScenario{t: t, hub: hub, lab: lab, bins: bins}
	steps := []struct {
		name string
		fn   func()
	}{
		{"install", s.install},
		{"notify", s.notify},
		{"ships", s.ships},
		{"doctor", s.doctor},
		{"watchdog", s.watchdog},
		{"stop mid-upload", s.stopMidUpload},
		{"sandbox", s.sandbox},
		{"bad config", s.badConfig},
		{"reinstall", s.reinstall},
		{"journal", s.journalFields},
	}
	for _, st := range steps {
		t0 := time.Now()
		if !t.Run(st.name, func(t *testing.T) { s.t, hub.t, lab.t = t, t, t; st.fn() }) {
			s.t, hub.t, lab.t = t, t, t
			t.Fatalf("%s failed: later steps depend on it", st.name)
		}
		t.Logf("%s: %.1fs", st.name, time.Since(t0).Seconds())
	}
	s.t, hub.t, lab.t = t, t, t
	s.exactlyOnce()
	t.Logf("whole scenario: %.1fs", time.Since(start).Seconds())
}

// systemdScenario holds what the steps of TestSystemd share.
type systemdScenario struct {
	t        *testing.T
	hub, lab *machine
	bins     string
	episodes []string // ids recorded on lab1, each to be accepted once
	seq      int
}

// admin are the flags that connect as the admin, from the hub machine.
const admin = "--server tls://hub.lab:4222 --tls-cert /root/tls/admin.pem --tls-key /root/tls/admin-key.pem --tls-ca /root/tls/ca.pem"

// setKey sets key in the [table] of a TOML file in place ("" for the top
// level), as an operator's editor would: the line "key = ..." under the
// table's header is replaced.
func setKey(table, key, value string) string {
	header := "/^\\[" + table + "\\]$/"
	if table == "" {
		header = "1"
	}
	return fmt.Sprintf("sed -i '%s,/^\\[/ s|^%s = .*|%s = %s|' ", header, key, key, value)
}

func (s *systemdScenario) install() {
	hub, lab := s.hub, s.lab
	for _, m := range []*machine{hub, lab} {
		// A checkout: deploy/ and the binary `make build` leaves in bin/.
		if err := os.MkdirAll(filepath.Join(m.root, "root/cis490"), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", ".", filepath.Join(m.root, "root/cis490/deploy")).CombinedOutput(); err != nil {
			s.t.Fatalf("copy the kit: %v\n%s", err, out)
		}
		m.copyIn(filepath.Join(s.bins, "systemd-test-1"), "/root/cis490/bin/cis490", 0o755)
	}

	// The hub: docs/deploy.md, "A hub from zero".
	out := hub.must("/root/cis490/deploy/install-hub.sh")
	for _, want := range []string{"created system user cis490", "installed /etc/systemd/system/cis490-hub.service", "no /etc/cis490/users.conf yet"} {
		if !strings.Contains(out, want) {
			s.t.Errorf("install-hub.sh output lacks %q:\n%s", want, out)
		}
	}
	// 2. Certificates, with the commands of docs/security.md as they are.
	certs := docBlock(s.t, "../docs/security.md", "## Making the certificates")
	hub.must(certs)
	hub.must(`cd /root/tls
install -o cis490 -g cis490 -m 0644 ca.pem server.pem receiver.pem /etc/cis490/tls/
install -o cis490 -g cis490 -m 0600 server-key.pem receiver-key.pem /etc/cis490/tls/`)
	// 3. Configuration: site.conf as shipped (10.90.0.1:4222 is this
	// hub's address), users, receiver.toml.
	hub.must(`cis490 hub provision --host lab1 --no-apply --out /etc/cis490/users.conf
f=/etc/cis490/receiver.toml
` + setKey("nats", "url", `"tls:\/\/hub.lab:4222"`) + `$f
` + setKey("nats", "tls_cert", `"\/etc\/cis490\/tls\/receiver.pem"`) + `$f
` + setKey("nats", "tls_key", `"\/etc\/cis490\/tls\/receiver-key.pem"`) + `$f
` + setKey("nats", "tls_ca", `"\/etc\/cis490\/tls\/ca.pem"`) + `$f
` + setKey("receive", "archive_dir", `"\/var\/lib\/cis490\/archive"`) + `$f
cis490 config check --config $f`)
	// 4. Start the hub, then create its resources as the admin.
	hub.must("systemctl enable --now cis490-hub")
	out = hub.must("cis490 hub provision --host lab1 --out /etc/cis490/users.conf " + admin)
	if !strings.Contains(out, "provisioned for lab1") {
		s.t.Errorf("provision as the admin:\n%s", out)
	}
	hub.must("cis490 window add " + acceptedCommit + " --note systemd-test " + admin)
	// 5. Start the receiver.
	hub.must("systemctl enable --now cis490-receiver")

	// The lab host: docs/deploy.md, "A lab host from zero".
	out = lab.must("/root/cis490/deploy/install-lab-host.sh")
	if !strings.Contains(out, "installed /etc/systemd/system/cis490-publisher.service") {
		s.t.Errorf("install-lab-host.sh output:\n%s", out)
	}
	for _, f := range []string{"ca.pem", "lab1.pem", "lab1-key.pem"} {
		lab.copyIn(filepath.Join(hub.root, "root/tls", f), "/root/tls/"+f, 0o600)
	}
	lab.must(`install -o cis490 -g cis490 -m 0644 /root/tls/ca.pem /root/tls/lab1.pem /etc/cis490/tls/
install -o cis490 -g cis490 -m 0600 /root/tls/lab1-key.pem /etc/cis490/tls/
f=/etc/cis490/lab-host.toml
` + setKey("", "host_id", `"lab1"`) + `$f
` + setKey("nats", "url", `"tls:\/\/hub.lab:4222"`) + `$f
` + setKey("nats", "tls_cert", `"\/etc\/cis490\/tls\/lab1.pem"`) + `$f
` + setKey("nats", "tls_key", `"\/etc\/cis490\/tls\/lab1-key.pem"`) + `$f
` + setKey("nats", "tls_ca", `"\/etc\/cis490\/tls\/ca.pem"`) + `$f
` + setKey("ship", "settle", `"2s"`) + `$f
` + setKey("ship", "segment_size", `"4MiB"`) + `$f
` + setKey("ship", "max_rate", `"8MiB"`) + `$f
cis490 config check --config $f
runuser -u cis490 -- cis490 publish --ping --config $f
systemctl enable --now cis490-publisher`)
}

// docBlock returns the first ```sh block after heading in a doc.
func docBlock(t *testing.T, path, heading string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no heading %q", path, heading)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("%s: no sh block after %q", path, heading)
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// notify: each unit is active only after READY=1, and says what it does.
func (s *systemdScenario) notify() {
	want := map[string]*regexp.Regexp{
		"cis490-hub":       regexp.MustCompile(`^serving tls://10\.90\.0\.1:4222|streams`),
		"cis490-receiver":  regexp.MustCompile(`^receiving: \d+ submissions pending, \d+ in flight$`),
		"cis490-publisher": regexp.MustCompile(`^publishing; backlog \d+ episodes$`),
	}
	for unit, re := range want {
		m := s.hub
		if unit == "cis490-publisher" {
			m = s.lab
		}
		m.waitFor(unit+" status", 30*time.Second, func() error {
			p := m.show(unit, "Type", "ActiveState", "SubState", "StatusText")
			if p["Type"] != "notify" || p["ActiveState"] != "active" || !re.MatchString(p["StatusText"]) {
				return fmt.Errorf("%v; want notify, active, status matching %s", p, re)
			}
			return nil
		})
	}

	// With the hub stopped the receiver cannot connect, so it never sends
	// READY=1: started, it must not become active (a Type=simple unit
	// would be at once). Once the hub is back it does.
	s.hub.must("systemctl stop cis490-hub && systemctl restart --no-block cis490-receiver")
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); {
		if p := s.hub.show("cis490-receiver", "ActiveState", "SubState"); p["ActiveState"] == "active" {
			s.t.Fatalf("cis490-receiver is %v with the hub stopped: active before READY=1", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.hub.must("systemctl start cis490-hub")
	s.hub.waitFor("the receiver active once the hub is back", time.Minute, func() error {
		if p := s.hub.show("cis490-receiver", "ActiveState", "StatusText"); p["ActiveState"] != "active" {
			return fmt.Errorf("%v", p)
		}
		return nil
	})
}

// record writes an episode of mib MiB of random data into lab1's
// episodes/, as the recorder would (group-writable, meta.json last), and
// returns its id.
func (s *systemdScenario) record(mib int) string {
	s.seq++
	id := fmt.Sprintf("2026-12-04T20-00-%02d_lab1_%04d", s.seq%60, s.seq)
	s.lab.must(fmt.Sprintf(`umask 0002
d=/var/lib/cis490/episodes/%s
mkdir "$d"
head -c %dM /dev/urandom > "$d/data.bin"
printf '{"episode_id": "%s", "recorded_at": "2026-12-04T20:00:00Z", "code_version": {"commit": "%s", "branch": "main", "dirty": false}}\n' > "$d/meta.json.tmp"
mv "$d/meta.json.tmp" "$d/meta.json"`, id, mib, id, acceptedCommit))
	s.episodes = append(s.episodes, id)
	return id
}

// shipped waits until lab1 retired id to shipped/ with the hub's verdict
// accepted, and the receiver exported it.
func (s *systemdScenario) shipped(id string, timeout time.Duration) {
	s.lab.waitFor(id+" shipped", timeout, func() error {
		if v, err := os.ReadFile(filepath.Join(s.lab.root, "var/lib/cis490/quarantine", id, "verdict.json")); err == nil {
			s.t.Fatalf("%s quarantined: %s", id, v)
		}
		data, err := os.ReadFile(filepath.Join(s.lab.root, "var/lib/cis490/shipped", id, "verdict.json"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), `"accepted"`) {
			return fmt.Errorf("verdict.json: %s", data)
		}
		return nil
	})
}

// uploading waits until the publisher's journal of id has stored at least
// one segment and not yet submitted.
func (s *systemdScenario) uploading(id string) {
	s.lab.waitFor(id+" uploading", time.Minute, func() error {
		data, err := os.ReadFile(filepath.Join(s.lab.root, "var/lib/cis490/outbox", id+".json"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), `"stored_segments"`) {
			return fmt.Errorf("no segment stored yet")
		}
		return nil
	})
}

func (s *systemdScenario) ships() {
	id := s.record(1)
	s.shipped(id, 2*time.Minute)
	if !s.hub.exists("/var/lib/cis490/archive/lab1/" + id + "/meta.json") {
		out, _ := s.hub.run(time.Minute, "find /var/lib/cis490/archive")
		s.t.Errorf("no export of %s in the hub's archive_dir:\n%s", id, out)
	}
}

// doctor: green on the lab host, its systemd row included, and on the hub.
func (s *systemdScenario) doctor() {
	out, err := s.lab.run(time.Minute, "cis490 doctor --config /etc/cis490/lab-host.toml")
	if err != nil || !regexp.MustCompile(`(?m)^systemd +green +cis490-publisher is active`).MatchString(out) {
		s.t.Errorf("lab doctor: %v\n%s", err, out)
	}
	s.t.Logf("lab1: cis490 doctor\n%s", out)
	out, err = s.hub.run(time.Minute, "cis490 doctor --hub "+admin)
	if err != nil || !regexp.MustCompile(`(?m)^systemd +green +cis490-hub is active; cis490-receiver is active`).MatchString(out) {
		s.t.Errorf("hub doctor: %v\n%s", err, out)
	}
	s.t.Logf("hub: cis490 doctor --hub\n%s", out)
}

var daemonUnits = []string{"cis490-hub", "cis490-receiver", "cis490-publisher"}

func (s *systemdScenario) machineOf(unit string) *machine {
	if unit == "cis490-publisher" {
		return s.lab
	}
	return s.hub
}

// watchdog: with WatchdogSec=10s, idle daemons live through several
// periods; each daemon, frozen by SIGSTOP with an episode in flight, is
// killed by the watchdog and restarted, and the episode ships.
func (s *systemdScenario) watchdog() {
	for _, u := range daemonUnits {
		m := s.machineOf(u)
		m.write("/etc/systemd/system/"+u+".service.d/50-test-watchdog.conf", "[Service]\nWatchdogSec=10s\n", 0o644)
	}
	s.hub.must("systemctl daemon-reload && systemctl restart cis490-hub cis490-receiver")
	s.lab.must("systemctl daemon-reload && systemctl restart cis490-publisher")
	before := map[string]map[string]string{}
	for _, u := range daemonUnits {
		before[u] = s.machineOf(u).show(u, "MainPID", "NRestarts", "WatchdogUSec", "ActiveState")
		if before[u]["WatchdogUSec"] != "10s" || before[u]["ActiveState"] != "active" {
			s.t.Fatalf("%s: %v, want WatchdogUSec=10s, active", u, before[u])
		}
	}
	time.Sleep(35 * time.Second) // three and a half periods, idle
	for _, u := range daemonUnits {
		if now := s.machineOf(u).show(u, "MainPID", "NRestarts"); now["MainPID"] != before[u]["MainPID"] || now["NRestarts"] != before[u]["NRestarts"] {
			s.t.Errorf("%s idle for 35s with WatchdogSec=10s: %v, was %v", u, now, before[u])
		}
	}

	for _, u := range []string{"cis490-publisher", "cis490-receiver", "cis490-hub"} {
		m := s.machineOf(u)
		id := s.record(24) // 3 s of upload at max_rate 8MiB
		if u != "cis490-receiver" {
			s.uploading(id)
		}
		p := m.show(u, "MainPID", "NRestarts")
		m.must("kill -STOP " + p["MainPID"])
		n, _ := strconv.Atoi(p["NRestarts"])
		m.waitFor(u+" killed by the watchdog and restarted", 2*time.Minute, func() error {
			now := m.show(u, "MainPID", "NRestarts", "ActiveState")
			if now["NRestarts"] != strconv.Itoa(n+1) || now["MainPID"] == p["MainPID"] || now["ActiveState"] != "active" {
				return fmt.Errorf("%v, was %v", now, p)
			}
			return nil
		})
		out := m.must("journalctl -u " + u + " --no-pager -o cat | grep -E 'Watchdog timeout|Killing process|Scheduled restart'")
		if !strings.Contains(out, "Watchdog timeout (limit 10s)") {
			s.t.Errorf("%s: no watchdog timeout in the journal:\n%s", u, out)
		}
		s.shipped(id, 3*time.Minute)
	}
}

// stopMidUpload: systemctl stop during an upload exits 0 within
// TimeoutStopSec, and the upload resumes after start.
func (s *systemdScenario) stopMidUpload() {
	id := s.record(48) // 6 s at 8MiB/s
	s.uploading(id)
	t0 := time.Now()
	s.lab.must("systemctl stop cis490-publisher")
	took := time.Since(t0)
	p := s.lab.show("cis490-publisher", "ActiveState", "Result", "ExecMainStatus")
	if p["ActiveState"] != "inactive" || p["Result"] != "success" || p["ExecMainStatus"] != "0" || took > 30*time.Second {
		s.t.Errorf("stop mid-upload: %v after %s; want inactive, success, status 0 within TimeoutStopSec", p, took)
	}
	s.lab.must("systemctl start cis490-publisher")
	s.shipped(id, 2*time.Minute)
	out := s.lab.must("journalctl -u cis490-publisher --no-pager -o cat | grep -E 'publisher (ready|stopped)' | tail -n 2")
	if !strings.Contains(out, "resumed=1") {
		s.t.Errorf("the publisher did not resume the episode in flight:\n%s", out)
	}
}

// sandbox: in each daemon's own mount namespace, as its user and as root,
// only /var/lib/cis490 (and its private /tmp) can be written.
func (s *systemdScenario) sandbox() {
	for _, u := range daemonUnits {
		m := s.machineOf(u)
		pid := m.show(u, "MainPID")["MainPID"]
		for _, as := range []string{"setpriv --reuid=cis490 --regid=cis490 --init-groups --", ""} {
			for path, want := range map[string]string{
				"/etc/cis490/probe":      "denied",
				"/etc/probe":             "denied",
				"/usr/local/bin/probe":   "denied",
				"/root/probe":            "denied",
				"/var/tmp/../probe":      "denied",
				"/var/lib/cis490/probe":  "written",
				"/tmp/cis490-unit-probe": "written",
			} {
				out := m.must(fmt.Sprintf(`if nsenter --target %s --mount -- %s sh -c 'echo x > %s && rm %s' 2>/dev/null; then echo written; else echo denied; fi`, pid, as, path, path))
				if got := strings.TrimSpace(out); got != want {
					s.t.Errorf("%s (pid %s), %s: %s %s, want %s", u, pid, orRoot(as), path, got, want)
				}
			}
		}
		// PrivateTmp: the unit's /tmp is not the machine's.
		m.must(fmt.Sprintf(`nsenter --target %s --mount -- sh -c 'echo x > /tmp/cis490-private'`, pid))
		if m.exists("/tmp/cis490-private") {
			s.t.Errorf("%s wrote the machine's /tmp: PrivateTmp does not hold", u)
		}
	}
}

func orRoot(as string) string {
	if as == "" {
		return "as root"
	}
	return "as cis490"
}

// badConfig: a lab-host.toml the publisher refuses makes it exit 78, and
// systemd does not restart it in a loop; fixed, it starts.
func (s *systemdScenario) badConfig() {
	before := s.lab.show("cis490-publisher", "NRestarts")["NRestarts"]
	s.lab.must(`cp /etc/cis490/lab-host.toml /root/lab-host.toml.good
` + setKey("", "host_id", `"Lab 1"`) + `/etc/cis490/lab-host.toml
! systemctl restart cis490-publisher`)
	time.Sleep(8 * time.Second) // past RestartSec=5s
	p := s.lab.show("cis490-publisher", "ActiveState", "Result", "ExecMainStatus", "NRestarts")
	if p["ActiveState"] != "failed" || p["ExecMainStatus"] != "78" || p["NRestarts"] != before {
		s.t.Errorf("publisher with a bad host_id: %v, want failed, status 78, NRestarts %s", p, before)
	}
	out := s.lab.must("journalctl -u cis490-publisher --no-pager -o cat -n 20")
	if !strings.Contains(out, `host_id = "Lab 1"`) {
		s.t.Errorf("the journal does not name the bad field:\n%s", out)
	}
	s.lab.must("cp /root/lab-host.toml.good /etc/cis490/lab-host.toml && systemctl restart cis490-publisher")
}

// reinstall: running both scripts again changes nothing and restarts
// nothing; a newer binary restarts the units, which then run it.
func (s *systemdScenario) reinstall() {
	pids := func() map[string]string {
		got := map[string]string{}
		for _, u := range daemonUnits {
			got[u] = s.machineOf(u).show(u, "MainPID")["MainPID"]
		}
		return got
	}
	before := pids()
	for m, script := range map[*machine]string{s.hub: "install-hub.sh", s.lab: "install-lab-host.sh"} {
		out := m.must("/usr/local/share/cis490/" + script)
		if !strings.Contains(out, "done: nothing changed") || strings.Contains(out, "restarted cis490") {
			s.t.Errorf("%s again:\n%s", script, out)
		}
	}
	if after := pids(); fmt.Sprint(after) != fmt.Sprint(before) {
		s.t.Errorf("a run that changed nothing restarted units: main pids %v, were %v", after, before)
	}

	for _, m := range []*machine{s.hub, s.lab} {
		m.copyIn(filepath.Join(s.bins, "systemd-test-2"), "/root/new/cis490", 0o755)
	}
	out := s.hub.must("CIS490_BIN=/root/new/cis490 /usr/local/share/cis490/install-hub.sh")
	for _, u := range []string{"cis490-hub", "cis490-receiver"} {
		if !strings.Contains(out, "restarted "+u+".service (new binary)") {
			s.t.Errorf("install-hub.sh with a new binary does not restart %s:\n%s", u, out)
		}
	}
	out = s.lab.must("CIS490_BIN=/root/new/cis490 /usr/local/share/cis490/install-lab-host.sh")
	if !strings.Contains(out, "restarted cis490-publisher.service (new binary)") {
		s.t.Errorf("install-lab-host.sh with a new binary does not restart the publisher:\n%s", out)
	}
	after := pids()
	for _, u := range daemonUnits {
		m := s.machineOf(u)
		if after[u] == before[u] {
			s.t.Errorf("%s kept pid %s after the update", u, after[u])
		}
		// The process runs the file now installed, not the old one
		// (deleted), and that file is the new build.
		out := m.must(fmt.Sprintf(`readlink /proc/%s/exe; [ /proc/%s/exe -ef /usr/local/bin/cis490 ] && echo same; /usr/local/bin/cis490 version`, after[u], after[u]))
		if strings.Contains(out, "(deleted)") || !strings.Contains(out, "same") || !strings.Contains(out, "cis490 systemd-test-2 ") {
			s.t.Errorf("%s after the update:\n%s", u, out)
		}
	}
	s.shipped(s.record(1), 2*time.Minute)
}

// journalFields: the receiver's verdict lines carry the fields
// docs/observability.md promises.
func (s *systemdScenario) journalFields() {
	id := s.episodes[0]
	var found bool
	for _, e := range s.hub.journal("cis490-receiver") {
		if e["EPISODE"] == id && strings.HasPrefix(fmt.Sprint(e["MESSAGE"]), "verdict") {
			found = true
			for k, want := range map[string]string{"PRIORITY": "6", "SYSLOG_IDENTIFIER": "cis490", "HOST": "lab1", "REASON": "accepted", "COMPONENT": "receiver"} {
				if got := fmt.Sprint(e[k]); got != want {
					s.t.Errorf("verdict of %s: %s = %q, want %q", id, k, got, want)
				}
			}
		}
	}
	if !found {
		s.t.Errorf("no journal entry of the receiver with EPISODE=%s and a verdict", id)
	}
}

// exactlyOnce: every episode recorded was judged once by the receiver and
// retired once on lab1.
func (s *systemdScenario) exactlyOnce() {
	verdicts := map[string]int{}
	for _, e := range s.hub.journal("cis490-receiver") {
		msg := fmt.Sprint(e["MESSAGE"])
		ep, _ := e["EPISODE"].(string)
		if ep == "" { // a text line: msg=verdict ... episode=<id>
			if m := regexp.MustCompile(`\bepisode=(\S+)`).FindStringSubmatch(msg); m != nil {
				ep = m[1]
			}
		}
		if ep != "" && (strings.HasPrefix(msg, "verdict") || strings.Contains(msg, "msg=verdict ")) {
			verdicts[ep]++
		}
	}
	for _, id := range s.episodes {
		if verdicts[id] != 1 {
			s.t.Errorf("%s: %d verdicts, want 1", id, verdicts[id])
		}
		if !s.lab.exists("/var/lib/cis490/shipped/" + id) {
			s.t.Errorf("%s: not in shipped/", id)
		}
	}
	s.t.Logf("%d episodes, each judged once and shipped", len(s.episodes))
}
