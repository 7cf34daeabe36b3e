package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// machine is a Debian root file system booted with systemd as PID 1 by
// systemd-nspawn, in a network namespace of the test's: a hub or a lab host
// as it will run, but on this machine. Commands run inside it through
// nsenter, as root, with a clean environment.
type machine struct {
	t    *testing.T
	name string
	root string // its root file system, seen from the host
	pid  int    // the host's pid of its systemd
	cmd  *exec.Cmd
	log  string // nspawn's console output
}

// testNetwork makes two network namespaces joined by a veth pair, with the
// hub at 10.90.0.1 (the address the shipped site.conf listens on, wg0's in
// docs/deploy.md) and the lab host at 10.90.0.2, and removes them at the
// end of the test. It returns the namespaces' names.
func testNetwork(t *testing.T) (hubNS, labNS string) {
	t.Helper()
	id := os.Getpid() % 100000
	hubNS, labNS = fmt.Sprintf("cis490sd-hub-%d", id), fmt.Sprintf("cis490sd-lab-%d", id)
	hubIf, labIf := fmt.Sprintf("c4h%d", id), fmt.Sprintf("c4l%d", id)
	t.Cleanup(func() {
		for _, ns := range []string{hubNS, labNS} {
			exec.Command("ip", "netns", "delete", ns).Run() // takes the veth with it
		}
	})
	for _, args := range [][]string{
		{"netns", "add", hubNS},
		{"netns", "add", labNS},
		{"link", "add", hubIf, "type", "veth", "peer", "name", labIf},
		{"link", "set", hubIf, "netns", hubNS},
		{"link", "set", labIf, "netns", labNS},
		{"-n", hubNS, "addr", "add", "10.90.0.1/24", "dev", hubIf},
		{"-n", labNS, "addr", "add", "10.90.0.2/24", "dev", labIf},
		{"-n", hubNS, "link", "set", hubIf, "up"},
		{"-n", labNS, "link", "set", labIf, "up"},
		{"-n", hubNS, "link", "set", "lo", "up"},
		{"-n", labNS, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return hubNS, labNS
}

// bootMachine unpacks rootfs (a tar made by mmdebstrap) into a directory of
// the test's and boots it in netns. It returns once systemd reports the
// system running. At the end of the test the machine is powered off (and
// killed if it does not go), after its journal has been saved to
// logDir/<name>.journal when the test failed.
func bootMachine(t *testing.T, name, rootfs, netns, logDir string) *machine {
	t.Helper()
	m := &machine{t: t, name: name, root: filepath.Join(t.TempDir(), name), log: filepath.Join(logDir, name+".console")}
	if err := os.MkdirAll(m.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-C", m.root, "-xf", rootfs).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", rootfs, err, out)
	}
	// The machine's own name, and the hub's name as the lab hosts dial it
	// (a DNS name in the server certificate of docs/security.md).
	m.write("/etc/hostname", name+"\n", 0o644)
	m.write("/etc/hosts", "127.0.0.1 localhost "+name+"\n10.90.0.1 hub.lab\n", 0o644)
	console, err := os.Create(m.log)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command("systemd-nspawn", "--quiet", "-D", m.root, "--boot",
		"--register=no", "--keep-unit", "--network-namespace-path=/run/netns/"+netns,
		"--machine="+name, "--console=pipe")
	m.cmd.Stdout, m.cmd.Stderr = console, console
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	exited := make(chan struct{})
	go func() { m.cmd.Wait(); console.Close(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			m.saveJournal(filepath.Join(logDir, name+".journal"))
		}
		// SIGTERM asks nspawn to shut the machine down (SIGRTMIN+3 to its
		// systemd); what is left after 30 s is killed.
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for m.pid == 0 {
		select {
		case <-exited:
			t.Fatalf("systemd-nspawn %s exited at boot: %v\n%s", name, m.cmd.ProcessState, tail(m.log, 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no systemd under systemd-nspawn after 30s\n%s", name, tail(m.log, 30))
		}
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", m.cmd.Process.Pid, m.cmd.Process.Pid))
		for _, f := range strings.Fields(string(children)) {
			pid, _ := strconv.Atoi(f)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "systemd" {
				m.pid = pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// systemctl answers once systemd listens on its private socket.
	var state string
	for end := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		state, _ = m.run(time.Minute, "systemctl is-system-running --wait")
		state = strings.TrimSpace(state)
		if !strings.Contains(state, "Failed to connect to bus") || time.Now().After(end) {
			break
		}
	}
	if state != "running" {
		failed, _ := m.run(time.Minute, "systemctl --failed --no-legend")
		t.Fatalf("%s booted %q, want running; failed units:\n%s", name, state, failed)
	}
	return m
}

// run runs script with bash -euo pipefail inside the machine, as root, and
// returns its output, stdout and stderr together.
func (m *machine) run(timeout time.Duration, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(m.pid), "--all", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
		"/bin/bash", "-euo", "pipefail", "-c", "cd /root\n"+script)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (not done after %s)", err, timeout)
	}
	return string(out), err
}

// must runs script and fails the test if it fails.
func (m *machine) must(script string) string {
	m.t.Helper()
	out, err := m.run(5*time.Minute, script)
	if err != nil {
		m.t.Fatalf("%s: %v:\n%s\n--- output:\n%s", m.name, err, script, out)
	}
	return out
}

// write writes a file into the machine's file system.
func (m *machine) write(path, data string, mode os.FileMode) {
	m.t.Helper()
	p := filepath.Join(m.root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		m.t.Fatal(err)
	}
}

// copyIn copies a file of the host's into the machine.
func (m *machine) copyIn(from, to string, mode os.FileMode) {
	m.t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		m.t.Fatal(err)
	}
	m.write(to, string(data), mode)
}

// exists says whether path exists in the machine.
func (m *machine) exists(path string) bool {
	_, err := os.Lstat(filepath.Join(m.root, path))
	return err == nil
}

// show returns properties of unit, as systemctl show prints them.
func (m *machine) show(unit string, props ...string) map[string]string {
	m.t.Helper()
	out := m.must("systemctl show " + unit + " -p " + strings.Join(props, ","))
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	return got
}

// waitFor polls fn every 250 ms until it returns nil, and fails the test
// with fn's last error after timeout.
func (m *machine) waitFor(what string, timeout time.Duration, fn func() error) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: %s: not after %s: %v", m.name, what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// journal returns the journal entries of unit since the boot, each as the
// fields journalctl -o json prints.
func (m *machine) journal(unit string) []map[string]any {
	m.t.Helper()
	out := m.must("journalctl -u " + unit + " -o json --no-pager")
	var entries []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			m.t.Fatalf("journalctl -o json: %v: %q", err, sc.Text())
		}
		entries = append(entries, e)
	}
	return entries
}

// saveJournal writes the machine's whole journal to path, for a failed
// test's post-mortem.
func (m *machine) saveJournal(path string) {
	out, err := m.run(time.Minute, "journalctl --no-pager -o short-precise")
	if err != nil {
		out += fmt.Sprintf("\njournalctl: %v", err)
	}
	os.WriteFile(path, []byte(out), 0o644)
	m.t.Logf("%s's journal: %s", m.name, path)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
