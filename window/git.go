package window

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/cis490/cis490/subjects"
)

// ErrGit is wrapped by GitLog's errors when git itself failed: no such
// directory, not a repository, no commits yet, git not installed.
var ErrGit = errors.New("git failed")

// GitLog returns the last n commits of the repository (or work tree) in
// dir, newest first, as full lowercase commits: the output of
// `git -C dir log --format=%H -n N`, with --first-parent when firstParent
// is set (the commits of the main line, not those merged into it). Errors
// name dir and carry git's stderr.
func GitLog(ctx context.Context, dir string, n int, firstParent bool) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("git log in %s: want at least 1 commit, got %d", dir, n)
	}
	args := []string{"-C", dir, "log", "--format=%H", "-n", strconv.Itoa(n)}
	if firstParent {
		args = append(args, "--first-parent")
	}
	args = append(args, "--")
	cmd := exec.CommandContext(ctx, "git", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git log in %s: %w: %s", dir, ErrGit, msg)
	}
	var commits []string
	for line := range strings.Lines(stdout.String()) {
		c := strings.TrimSpace(line)
		if err := subjects.ValidateCommit(c); err != nil {
			return nil, fmt.Errorf("git log in %s: %w", dir, err)
		}
		commits = append(commits, c)
	}
	return commits, nil
}
