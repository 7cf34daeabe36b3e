package window

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// git runs git in dir with a fixed identity and no user or system config,
// and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=lab", "GIT_AUTHOR_EMAIL=lab@example.org",
		"GIT_COMMITTER_NAME=lab", "GIT_COMMITTER_EMAIL=lab@example.org",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitRepo makes a repository in a temp dir with this history, newest first
// in the returned commits:
//
//	main:    m1 ── m2 ────── merge
//	                 └─ f1 ──┘      (branch feature)
//
// It returns the dir, the first-parent commits [merge m2 m1] and every
// commit newest first as git log lists them.
func gitRepo(t testing.TB) (dir string, firstParent, all []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	dir = t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	commit := func(msg string) string {
		git(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
		return git(t, dir, "rev-parse", "HEAD")
	}
	m1 := commit("m1")
	m2 := commit("m2")
	git(t, dir, "checkout", "-q", "-b", "feature")
	f1 := commit("f1")
	git(t, dir, "checkout", "-q", "main")
	git(t, dir, "merge", "-q", "--no-ff", "-m", "merge", "feature")
	merge := git(t, dir, "rev-parse", "HEAD")
	all = strings.Fields(git(t, dir, "log", "--format=%H"))
	if len(all) != 4 || !slices.Contains(all, f1) {
		t.Fatalf("git log = %v, want 4 commits with %s", all, f1)
	}
	return dir, []string{merge, m2, m1}, all
}

func TestGitLog(t *testing.T) {
	t.Parallel()
	dir, firstParent, all := gitRepo(t)
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		dir         string
		n           int
		firstParent bool
		want        []string
	}{
		{"last 2", dir, 2, false, all[:2]},
		{"all", dir, 10, false, all},
		{"first parent", dir, 10, true, firstParent},
		{"first parent last 2", dir, 2, true, firstParent[:2]},
		{"from a subdirectory", sub, 1, false, all[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := GitLog(t.Context(), tt.dir, tt.n, tt.firstParent)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("GitLog(%s, %d, %v) = %v, %v; want %v", tt.dir, tt.n, tt.firstParent, got, err, tt.want)
			}
		})
	}
}

func TestGitLogErrors(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	notRepo := t.TempDir()
	empty := t.TempDir()
	git(t, empty, "init", "-q")
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		dir  string
		n    int
		want string // in the error, besides the dir
	}{
		{"not a repository", notRepo, 1, "not a git repository"},
		{"no commits", empty, 1, "does not have any commits"},
		{"no such dir", missing, 1, "cannot change to"},
		{"n zero", notRepo, 0, "want at least 1 commit, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := GitLog(t.Context(), tt.dir, tt.n, false)
			if err == nil || !strings.Contains(err.Error(), tt.dir) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("GitLog(%s, %d) = %v, %v; want an error naming the dir and containing %q", tt.dir, tt.n, got, err, tt.want)
			}
			if tt.n > 0 && !errors.Is(err, ErrGit) {
				t.Errorf("GitLog(%s) = %v, want ErrGit", tt.dir, err)
			}
		})
	}
}
