package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cis490Bin is the cis490 binary built once by TestMain.
var cis490Bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cis490-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cis490Bin = filepath.Join(dir, "cis490")
	if out, err := exec.Command("go", "build", "-o", cis490Bin, "../cmd/cis490").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool returns the path of an external tool. Where it is missing the
// test is skipped, saying how to install it, except under CI (CI=true),
// where a missing tool fails the test: CI must check what the test checks.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (apt-get install -y %s): %v", name, debianPackage, err)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg)
	return ""
}
