package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

func TestHubProvisionUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.conf")
	if err := os.WriteFile(foreign, []byte("authorization {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"hub", "provision", "--no-apply"}, "no host"},
		{[]string{"hub", "provision", "--no-apply", "--host", "Lab1"}, `invalid host id "Lab1"`},
		{[]string{"hub", "provision", "--no-apply", "--host", "admin"}, "reserved"},
		{[]string{"hub", "provision", "--no-apply", "--host", "lab1", "--quota", "lots"}, `--quota "lots"`},
		{[]string{"hub", "provision", "--no-apply", "--host", "lab1", "--replicas", "7"}, "Replicas 7"},
		{[]string{"hub", "provision", "--no-apply", "--host", "lab1", "--out", foreign}, "refusing to overwrite"},
		{[]string{"hub", "provision", "--no-apply", "--host", "lab1", "--out", filepath.Join(dir, "nodir", "users.conf")}, "nodir"},
	}
	for _, tt := range tests {
		_, code, err := runCommand(t, tt.args...)
		if code != 2 || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("cis490 %s = exit %d, %v; want exit 2 naming %q", strings.Join(tt.args, " "), code, err, tt.want)
		}
	}
	if data, _ := os.ReadFile(foreign); string(data) != "authorization {}\n" {
		t.Errorf("a users.conf provision did not write was changed: %q", data)
	}
}

// TestHubProvisionAddsHosts: --out keeps the hosts the file lists, so
// adding a host is one command, and every bucket is created on the hub.
func TestHubProvisionAddsHosts(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t)
	out := filepath.Join(t.TempDir(), "users.conf")
	if _, code, err := runCommand(t, "hub", "provision", "--host", "lab1,lab2", "--out", out, "--no-apply"); code != 0 {
		t.Fatalf("provision lab1,lab2 --no-apply = exit %d, %v", code, err)
	}
	stdout, code, err := runCommand(t, "hub", "provision", "--host", "lab3", "--out", out, "--server", h.ClientURL(), "--quota", "1GiB")
	if code != 0 {
		t.Fatalf("provision lab3 = exit %d, %v", code, err)
	}
	if !strings.Contains(stdout, "ok  object bucket EPISODES_LAB3") || !strings.Contains(stdout, "provisioned for lab1, lab2, lab3 (quota 1GiB each)") {
		t.Errorf("provision lab3 printed:\n%s\nwant every bucket ensured", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := hub.HostsOfUsersConf(data)
	if err != nil || !slices.Equal(hosts, []string{"lab1", "lab2", "lab3"}) {
		t.Errorf("users.conf hosts = %q, %v; want lab1 lab2 lab3", hosts, err)
	}
	js, err := h.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range hosts {
		obs, err := js.ObjectStore(t.Context(), subjects.EpisodeBucket(host))
		if err != nil {
			t.Errorf("bucket of %s: %v", host, err)
			continue
		}
		st, err := obs.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info := st.(*jetstream.ObjectBucketStatus).StreamInfo(); info.Config.MaxBytes != 1<<30 {
			t.Errorf("bucket of %s MaxBytes = %d, want 1GiB", host, info.Config.MaxBytes)
		}
	}
	// Without --out the block goes to standard output.
	stdout, code, _ = runCommand(t, "hub", "provision", "--host", "lab9", "--no-apply")
	if code != 0 || !strings.HasPrefix(stdout, hub.UsersConfHeader) || !strings.Contains(stdout, `"CN=lab9,O=cis490"`) {
		t.Errorf("provision --no-apply without --out = exit %d, printed:\n%s", code, stdout)
	}
}

// TestHubProvisionKeeps checks that adding a host changes nothing else: an
// existing host's grown quota and the receiver's quarantine limits and ack
// wait are kept unless --quota or --receiver-config say otherwise.
func TestHubProvisionKeeps(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t)
	js, err := h.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	provision := func(args ...string) string {
		t.Helper()
		stdout, code, err := runCommand(t, append([]string{"hub", "provision", "--server", h.ClientURL(), "--out", filepath.Join(t.TempDir(), "users.conf")}, args...)...)
		if code != 0 {
			t.Fatalf("provision %q = exit %d, %v", args, code, err)
		}
		return stdout
	}
	quota := func(host string) int64 {
		t.Helper()
		st, err := js.Stream(t.Context(), subjects.ObjectStream(subjects.EpisodeBucket(host)))
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().Config.MaxBytes
	}
	settings := func() (int64, time.Duration) {
		t.Helper()
		st, err := js.Stream(t.Context(), subjects.QuarantineStream)
		if err != nil {
			t.Fatal(err)
		}
		c, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().Config.MaxBytes, c.CachedInfo().Config.AckWait
	}

	provision("--host", "lab1", "--quota", "2GiB")
	if _, err := receiverApply(t, js); err != nil {
		t.Fatal(err)
	}
	out := provision("--host", "lab1,lab2")
	if got := quota("lab1"); got != 2<<30 {
		t.Errorf("lab1's quota after adding lab2 = %d, want its own 2GiB kept", got)
	}
	if got := quota("lab2"); got != hub.DefaultResourceOptions().HostQuota {
		t.Errorf("lab2's quota = %d, want the default", got)
	}
	if !strings.Contains(out, "existing buckets keep theirs") {
		t.Errorf("provision printed:\n%s\nwant it to say existing quotas are kept", out)
	}
	if b, w := settings(); b != 32<<20 || w != 7*time.Minute {
		t.Errorf("after provision: quarantine max_bytes %d, ack wait %s; want the receiver's 32MiB and 7m kept", b, w)
	}

	rc := filepath.Join(t.TempDir(), "receiver.toml")
	if err := os.WriteFile(rc, []byte("[quarantine]\nmax_bytes = \"48MiB\"\n[receive]\nack_wait = \"3m\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	provision("--host", "lab1", "--quota", "3GiB", "--receiver-config", rc)
	if got := quota("lab1"); got != 3<<30 {
		t.Errorf("lab1's quota after --quota 3GiB = %d", got)
	}
	if b, w := settings(); b != 48<<20 || w != 3*time.Minute {
		t.Errorf("after --receiver-config: quarantine max_bytes %d, ack wait %s; want 48MiB and 3m", b, w)
	}
}

// receiverApply applies, as cis490 receive does at start, a receiver.toml
// with a 32 MiB quarantine and a 7 m ack wait.
func receiverApply(t *testing.T, js jetstream.JetStream) (bool, error) {
	t.Helper()
	if _, err := receiver.ApplyQuarantineLimits(t.Context(), js, receiver.QuarantineLimits{MaxBytes: 32 << 20}); err != nil {
		return false, err
	}
	return receiver.ApplyAckWait(t.Context(), js, 7*time.Minute)
}
