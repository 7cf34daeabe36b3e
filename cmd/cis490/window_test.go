package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/window"
)

// windowCommit returns a valid commit: n in hex, padded to 40 digits.
func windowCommit(n int) string { return fmt.Sprintf("%040x", n) }

// windowHub starts a hub and returns its URL and its window.
func windowHub(t testing.TB) (string, *window.Window) {
	t.Helper()
	h := hubtest.RunServer(t)
	_, js := hubtest.Connect(t, h.ClientURL())
	w, err := window.Open(t.Context(), js, window.WithAddedBy("tester@lab"))
	if err != nil {
		t.Fatalf("window.Open: %v", err)
	}
	return h.ClientURL(), w
}

// windowGitRepo makes a git repository with three commits and returns its
// dir and its commits, newest first.
func windowGitRepo(t testing.TB) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.CommandContext(t.Context(), "git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=lab", "GIT_AUTHOR_EMAIL=lab@example.org",
			"GIT_COMMITTER_NAME=lab", "GIT_COMMITTER_EMAIL=lab@example.org")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	git("init", "-q")
	for _, m := range []string{"v1", "v2", "v3"} {
		git("commit", "-q", "--allow-empty", "-m", m)
	}
	return dir, strings.Fields(git("log", "--format=%H"))
}

func TestWindowFunctions(t *testing.T) {
	t.Parallel()
	_, w := windowHub(t)
	ctx := t.Context()
	c1, c2, c9 := windowCommit(1), windowCommit(2), windowCommit(9)
	var out, errOut bytes.Buffer

	if err := runWindowList(ctx, w, &out, &errOut, false); err != nil || out.Len() != 0 || !strings.Contains(errOut.String(), "empty") {
		t.Errorf("list of an empty window: %v, stdout %q, stderr %q; want nothing on stdout and \"empty\" on stderr", err, out.String(), errOut.String())
	}
	out.Reset()
	if err := runWindowList(ctx, w, &out, &errOut, true); err != nil || out.String() != "[]\n" {
		t.Errorf("list --json of an empty window = %q, %v; want \"[]\\n\"", out.String(), err)
	}

	out.Reset()
	if err := runWindowAdd(ctx, w, &out, "release 1.4", []string{c1, c2}); err != nil {
		t.Fatalf("add: %v", err)
	}
	out.Reset()
	if err := runWindowAdd(ctx, w, &out, "again", []string{c2}); err != nil {
		t.Fatalf("add again: %v", err)
	}
	if want := "kept " + c2 + " (already in the window)\n"; out.String() != want {
		t.Errorf("add of a present commit printed %q, want %q", out.String(), want)
	}

	out.Reset()
	if err := runWindowList(ctx, w, &out, &errOut, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], c1+"  ") || !strings.HasSuffix(lines[0], "  tester@lab  release 1.4") ||
		!strings.HasPrefix(lines[1], c2+"  ") {
		t.Errorf("list =\n%s\nwant one line per commit: commit, added at, by, note", out.String())
	}

	out.Reset()
	if err := runWindowRemove(ctx, w, &out, []string{c1, c9}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if want := "removed " + c1 + "\nabsent " + c9 + " (was not in the window)\n"; out.String() != want {
		t.Errorf("remove printed %q, want %q", out.String(), want)
	}

	out.Reset()
	if err := runWindowList(ctx, w, &out, &errOut, true); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) != 1 || list[0]["commit"] != c2 ||
		list[0]["added_by"] != "tester@lab" || list[0]["note"] != "release 1.4" {
		t.Errorf("list --json = %s (%v), want one entry for %s", out.String(), err, c2)
	}
	if at, _ := list[0]["added_at"].(string); at == "" {
		t.Errorf("list --json: no added_at in %s", out.String())
	} else if _, err := time.Parse(time.RFC3339, at); err != nil {
		t.Errorf("list --json: added_at %q is not RFC 3339: %v", at, err)
	}
}

func TestWindowSyncFunction(t *testing.T) {
	t.Parallel()
	_, w := windowHub(t)
	ctx := t.Context()
	dir, commits := windowGitRepo(t)
	newest, middle, oldest := commits[0], commits[1], commits[2]
	if _, err := w.Add(ctx, "", middle); err != nil {
		t.Fatal(err)
	}
	last2, err := window.GitLog(ctx, dir, 2, false)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := runWindowSync(ctx, w, &out, last2, windowSyncOptions{dryRun: true}); err != nil {
		t.Fatal(err)
	}
	want := "kept " + middle + " (already in the window)\nwould add " + newest + "\n"
	if out.String() != want {
		t.Errorf("sync --dry-run printed\n%s\nwant\n%s", out.String(), want)
	}
	if list, _ := w.List(ctx); len(list) != 1 {
		t.Errorf("sync --dry-run changed the window: %v", list)
	}

	out.Reset()
	if err := runWindowSync(ctx, w, &out, commits, windowSyncOptions{note: "sync"}); err != nil {
		t.Fatal(err)
	}
	want = "added " + oldest + "\nkept " + middle + " (already in the window)\nadded " + newest + "\n"
	if out.String() != want {
		t.Errorf("sync printed\n%s\nwant\n%s", out.String(), want)
	}
	list, err := w.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Commit)
	}
	if want := []string{middle, oldest, newest}; !slices.Equal(got, want) {
		t.Errorf("window after sync = %v, want %v (added oldest first)", got, want)
	}
}

// TestWindowCommand runs the cobra commands against a hub.
func TestWindowCommand(t *testing.T) {
	t.Parallel()
	url, w := windowHub(t)
	dir, commits := windowGitRepo(t)
	c1 := windowCommit(1)
	cli := func(args ...string) (string, int, error) {
		t.Helper()
		return runCommand(t, append([]string{"--server", url}, args...)...)
	}

	if out, code, err := cli("window", "add", c1, "--note", "release 1.4"); code != 0 || out != "added "+c1+"\n" {
		t.Errorf("window add = %q, %v, exit %d; want \"added %s\", exit 0", out, err, code, c1)
	}
	if out, code, err := cli("window", "ls"); code != 0 || !strings.HasPrefix(out, c1+"  ") || !strings.HasSuffix(out, "  release 1.4\n") {
		t.Errorf("window ls = %q, %v, exit %d; want one line for %s", out, err, code, c1)
	}
	if out, code, err := cli("window", "sync", "--git", dir, "--last", "2", "--dry-run"); code != 0 ||
		out != "would add "+commits[1]+"\nwould add "+commits[0]+"\n" {
		t.Errorf("window sync --dry-run = %q, %v, exit %d", out, err, code)
	}
	if out, code, err := cli("window", "sync", "--git", dir, "--last", "2"); code != 0 ||
		out != "added "+commits[1]+"\nadded "+commits[0]+"\n" {
		t.Errorf("window sync = %q, %v, exit %d", out, err, code)
	}
	if ok, err := w.Allows(t.Context(), commits[0]); err != nil || !ok {
		t.Errorf("Allows(synced commit) = %v, %v; want true", ok, err)
	}
	if ok, err := w.Allows(t.Context(), commits[2]); err != nil || ok {
		t.Errorf("Allows(commit not synced) = %v, %v; want false", ok, err)
	}
	if out, code, err := cli("window", "rm", c1); code != 0 || out != "removed "+c1+"\n" {
		t.Errorf("window rm = %q, %v, exit %d", out, err, code)
	}
	out, code, err := cli("window", "ls", "--json")
	var list []window.Entry
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Errorf("window ls --json = %q, %v, exit %d; want 2 entries", out, err, code)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad commit", []string{"window", "add", c1, "1234abc"}, `invalid commit "1234abc"`},
		{"upper case commit", []string{"window", "rm", strings.ToUpper(commits[0])}, "want exactly 40 lowercase hex digits"},
		{"no commit", []string{"window", "add"}, "requires at least 1 arg"},
		{"not a repository", []string{"window", "sync", "--git", t.TempDir(), "--last", "1"}, "not a git repository"},
		{"no --git", []string{"window", "sync", "--last", "1"}, `required flag(s) "git" not set`},
		{"last 0", []string{"window", "sync", "--git", dir, "--last", "0"}, "--last 0: want at least 1"},
		{"unknown subcommand", []string{"window", "bogus"}, `unknown command "bogus" for "cis490 window"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, code, err := cli(tt.args...)
			if code != 2 || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("cis490 %s: exit %d, %v; want exit 2 and %q", strings.Join(tt.args, " "), code, err, tt.want)
			}
		})
	}
	if list, err := w.List(t.Context()); err != nil || len(list) != 2 {
		t.Errorf("window after rejected commands = %v, %v; want the 2 synced commits", list, err)
	}
}

func TestWindowCommandServerDown(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("nats://127.0.0.1:%d", hubTestFreePort(t))
	if _, code, err := runCommand(t, "--server", url, "window", "ls"); code != 1 {
		t.Errorf("window ls with no server: exit %d (%v), want 1", code, err)
	}
	// A bad commit is told before connecting.
	if _, code, err := runCommand(t, "--server", url, "window", "add", "nope"); code != 2 {
		t.Errorf("window add nope with no server: exit %d (%v), want 2", code, err)
	}
}
