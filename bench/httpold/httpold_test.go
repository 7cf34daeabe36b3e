package httpold_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cis490/cis490/bench/httpold"
	"github.com/cis490/cis490/objectstore"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

// episode writes a settled episode under dataDir/episodes; commit "" is unstamped.
func episode(t *testing.T, dataDir, id, commit, data string) string {
	t.Helper()
	dir := filepath.Join(dataDir, "episodes", id)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "frames.bin"), []byte(data), 0o644)
	meta := `{"episode_id":"` + id + `","recorded_at":"2026-11-20T14:03:11Z"`
	if commit != "" {
		meta += `,"code_version":{"commit":"` + commit + `"}`
	}
	os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta+"}"), 0o644)
	return dir
}

func packed(t *testing.T, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := objectstore.Pack(context.Background(), dir, &b, objectstore.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func put(t *testing.T, url, path string, body []byte, sum string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+path, bytes.NewReader(body))
	req.Header.Set(httpold.HeaderSHA256, sum)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestReceiverStatusCodes: each answer of the old receiver, and what it leaves on disk.
func TestReceiverStatusCodes(t *testing.T) {
	store := t.TempDir()
	srv := httptest.NewServer(&httpold.Receiver{Dir: store})
	defer srv.Close()
	lab := t.TempDir()
	good := packed(t, episode(t, lab, "ep1", commit, "frames"))
	other := packed(t, episode(t, lab, "ep1b", commit, "other frames"))
	unstamped := packed(t, episode(t, lab, "ep2", "", "frames"))
	for _, tc := range []struct {
		name, path string
		body       []byte
		sum        string
		want       int
	}{
		{"stored", "/v1/episodes/lab1/ep1", good, sha(good), http.StatusCreated},
		{"identical again", "/v1/episodes/lab1/ep1", good, sha(good), http.StatusOK},
		{"another digest for a stored id", "/v1/episodes/lab1/ep1", other, sha(other), http.StatusConflict},
		{"digest mismatch", "/v1/episodes/lab1/ep3", good, sha(other), http.StatusUnprocessableEntity},
		{"unstamped", "/v1/episodes/lab1/ep2", unstamped, sha(unstamped), http.StatusBadRequest},
		{"meta of another episode", "/v1/episodes/lab1/ep4", good, sha(good), http.StatusUnprocessableEntity},
		{"not zstd", "/v1/episodes/lab1/ep5", []byte("plain"), sha([]byte("plain")), http.StatusUnprocessableEntity},
		{"bad host", "/v1/episodes/Lab.1/ep1", good, sha(good), http.StatusBadRequest},
		{"no digest", "/v1/episodes/lab1/ep6", good, "", http.StatusBadRequest},
	} {
		if got := put(t, srv.URL, tc.path, tc.body, tc.sum); got != tc.want {
			t.Errorf("%s: PUT %s = %d, want %d", tc.name, tc.path, got, tc.want)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(store, "lab1"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "ep1.tar.zst" {
		t.Errorf("receiver stored %v, want only ep1.tar.zst (no temp files, nothing rejected)", names)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "lab1", "ep1.tar.zst")); !bytes.Equal(b, good) {
		t.Errorf("stored ep1 differs from what was sent")
	}
}

// TestShip: a pass ships the good episode, quarantines the unstamped
// one, leaves the outbox empty; with the receiver down it fails and keeps
// the episode.
func TestShip(t *testing.T) {
	srv := httptest.NewServer(&httpold.Receiver{Dir: t.TempDir()})
	lab := t.TempDir()
	episode(t, lab, "ep1", commit, "frames")
	episode(t, lab, "ep2", "", "frames")
	s, err := httpold.Ship(t.Context(), httpold.ShipOptions{URL: srv.URL, Host: "lab1", DataDir: lab})
	if err != nil || s.Shipped != 1 || s.Quarantined != 1 {
		t.Fatalf("Ship = %+v, %v; want 1 shipped, 1 quarantined", s, err)
	}
	for _, p := range []string{"shipped/ep1/meta.json", "quarantine/ep2/meta.json"} {
		if _, err := os.Stat(filepath.Join(lab, p)); err != nil {
			t.Errorf("after Ship: %v", err)
		}
	}
	if e, _ := os.ReadDir(filepath.Join(lab, "outbox")); len(e) != 0 {
		t.Errorf("outbox holds %d entries after Ship, want none", len(e))
	}
	srv.Close()
	episode(t, lab, "ep3", commit, "frames")
	s, err = httpold.Ship(t.Context(), httpold.ShipOptions{URL: srv.URL, Host: "lab1", DataDir: lab})
	if err == nil || s.Failed["ep3"] == "" || errors.Is(err, httpold.ErrRejected) {
		t.Fatalf("Ship with the receiver down = %+v, %v; want ep3 failed, transient", s, err)
	}
	if _, err := os.Stat(filepath.Join(lab, "episodes", "ep3", "meta.json")); err != nil {
		t.Errorf("ep3 not kept in episodes/ after a failed ship: %v", err)
	}
}
