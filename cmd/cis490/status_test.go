package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusCommand(t *testing.T) {
	data := t.TempDir()
	ep := filepath.Join(data, "episodes", "ep-1")
	os.MkdirAll(ep, 0o755)
	os.WriteFile(filepath.Join(ep, "meta.json"), []byte(`{}`), 0o644)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"status", "--host-id", "lab1", "--data-dir", data}, &out, &errb); err != nil {
		t.Fatalf("status = %v: %s", err, errb.String())
	}
	for _, want := range []string{"host lab1", "backlog: 1 episodes ready", "in flight: none", "last shipped: none", "last rejected: none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
}
