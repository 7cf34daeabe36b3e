package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
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
