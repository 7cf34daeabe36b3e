// Package window holds the commit window: the code commits whose episodes
// the hub accepts, kept in the CIS490_WINDOW key-value bucket, one key per
// commit (subjects.WindowKey). Operators change it with `cis490 window`;
// lab hosts read it in their pre-flight check and the receiver gates every
// submission on it with Allows.
//
// An empty window accepts any stamped commit (docs/design.md): a lab that
// never sets a window gets the commit stamp checked, nothing more.
//
// Each value is JSON: {"added_at": RFC 3339 time, "added_by": "user@host",
// "note": "..."}. GitLog reads commits from a git repository, for
// `cis490 window sync`.
package window

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// Entry is one commit in the window.
type Entry struct {
	// Commit is the key: 40 lowercase hex digits.
	Commit string `json:"commit"`
	// AddedAt is when the commit was added.
	AddedAt time.Time `json:"added_at"`
	// AddedBy is who added it, user@host by default.
	AddedBy string `json:"added_by"`
	// Note is the operator's free text, often the release or the reason.
	Note string `json:"note"`
}

// value is an Entry as stored: the commit is the key.
type value struct {
	AddedAt time.Time `json:"added_at"`
	AddedBy string    `json:"added_by"`
	Note    string    `json:"note"`
}

// Change is what Add or Remove did to one commit.
type Change struct {
	Commit string
	// Changed is false when there was nothing to do: the commit was
	// already in the window (Add) or was not in it (Remove).
	Changed bool
}

// Window is the commit window on one JetStream connection. It is safe for
// concurrent use.
type Window struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	addedBy string
	now     func() time.Time

	// emptyFor is how long a window found empty is taken as empty by
	// Allows without asking the hub again; 0 asks every time.
	emptyFor time.Duration
	mu       sync.Mutex
	emptyAt  time.Time // when the window was last found empty
}

// Option changes a Window made by Open.
type Option func(*Window)

// WithAddedBy sets the added_by of the commits Add stores (default user@host).
func WithAddedBy(who string) Option { return func(w *Window) { w.addedBy = who } }

// WithClock sets the clock Add stamps added_at with, and that WithEmptyFor
// measures by (default time.Now).
func WithClock(now func() time.Time) Option { return func(w *Window) { w.now = now } }

// WithEmptyFor lets Allows take a window it found empty as still empty for
// d, without asking the hub again. Finding a window empty takes a stream
// info request, the most costly of Allows' requests and half its cost;
// with the publisher's pre-flight and the receiver each asking for every
// episode, it was a tenth of the CPU cis490 spends on a small episode when
// no window is set. The price: for up to d after a commit is added to an
// empty window, an episode of another commit is still allowed, as if it
// had been judged just before the change. A commit found in the window, or
// a window found not empty, is never cached: every refusal is the hub's
// answer of the moment.
func WithEmptyFor(d time.Duration) Option { return func(w *Window) { w.emptyFor = d } }

// Open opens the window bucket. The bucket must exist: the hub creates it
// at start (hub.EnsureResources); if it does not, the error names it and
// wraps jetstream.ErrBucketNotFound.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Window, error) {
	kv, err := js.KeyValue(ctx, subjects.WindowBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("open commit window: key-value bucket %s does not exist (cis490 hub creates it at start): %w", subjects.WindowBucket, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open commit window %s: %w", subjects.WindowBucket, err)
	}
	w := &Window{js: js, kv: kv, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	if w.addedBy == "" {
		w.addedBy = defaultAddedBy()
	}
	return w, nil
}

// defaultAddedBy returns user@host of this process.
func defaultAddedBy() string {
	who := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		who += "@" + h
	}
	return who
}

// List returns every commit in the window, oldest added first, ties by
// commit. A key whose value is not valid JSON is listed with its note
// saying so, so that an operator can see and remove it.
func (w *Window) List(ctx context.Context) ([]Entry, error) {
	var list []Entry
	err := w.live(ctx, func(e jetstream.KeyValueEntry) bool {
		list = append(list, entryOf(e))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list commit window: %w", err)
	}
	slices.SortFunc(list, func(a, b Entry) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), cmp.Compare(a.Commit, b.Commit))
	})
	return list, nil
}

// live calls each with every live key of the window until each returns
// false. It asks the stream which keys have a message (stream info with a
// subject filter), then reads each (a direct get; a deleted key reads as
// not found). Neither takes a consumer: a lab host may create none on the
// window, whose consumer slots every host shares.
func (w *Window) live(ctx context.Context, each func(jetstream.KeyValueEntry) bool) error {
	st, err := w.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("read window status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return fmt.Errorf("read window status: unexpected type %T", st)
	}
	info := bs.StreamInfo()
	if info.State.Msgs == 0 {
		return nil
	}
	stream, err := w.js.Stream(ctx, info.Config.Name)
	if err != nil {
		return fmt.Errorf("read window keys: %w", err)
	}
	prefix := windowSubjectPrefix
	keys, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return fmt.Errorf("read window keys: %w", err)
	}
	subjs := make([]string, 0, len(keys.State.Subjects))
	for s := range keys.State.Subjects {
		subjs = append(subjs, s)
	}
	slices.Sort(subjs)
	for _, s := range subjs {
		e, err := w.kv.Get(ctx, strings.TrimPrefix(s, prefix))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			continue
		case errors.Is(err, jetstream.ErrInvalidKey):
			continue // a subject no key of the bucket can have
		case err != nil:
			return fmt.Errorf("read window key %s: %w", s, err)
		}
		if !each(e) {
			return nil
		}
	}
	return nil
}

// windowSubjectPrefix starts the subject of every window key (ADR-8: key K
// of bucket B is $KV.B.K).
const windowSubjectPrefix = "$KV." + subjects.WindowBucket + "."

// entryOf decodes a key-value entry.
func entryOf(e jetstream.KeyValueEntry) Entry {
	var v value
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return Entry{Commit: e.Key(), AddedAt: e.Created(), Note: fmt.Sprintf("(unreadable value %q: %v)", e.Value(), err)}
	}
	return Entry{Commit: e.Key(), AddedAt: v.AddedAt, AddedBy: v.AddedBy, Note: v.Note}
}

// validate checks every commit before any is changed, and returns them
// without duplicates, in their first order. The error wraps
// subjects.ErrBadCommit and names the first bad commit.
func validate(commits []string) ([]string, error) {
	var out []string
	for _, c := range commits {
		if err := subjects.ValidateCommit(c); err != nil {
			return nil, err
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Add adds commits to the window with note. Every commit is validated
// before any is added (an invalid one is an error wrapping
// subjects.ErrBadCommit, naming it). A commit already in the window is left
// as it is, with its first note, and reported unchanged.
func (w *Window) Add(ctx context.Context, note string, commits ...string) ([]Change, error) {
	commits, err := validate(commits)
	if err != nil {
		return nil, fmt.Errorf("add to commit window: %w", err)
	}
	b, err := json.Marshal(value{AddedAt: w.now().UTC(), AddedBy: w.addedBy, Note: note})
	if err != nil {
		return nil, fmt.Errorf("add to commit window: %w", err)
	}
	var changes []Change
	for _, c := range commits {
		_, err := w.kv.Create(ctx, subjects.WindowKey(c), b)
		switch {
		case errors.Is(err, jetstream.ErrKeyExists):
			changes = append(changes, Change{Commit: c})
		case err != nil:
			return changes, fmt.Errorf("add commit %s to window: %w", c, err)
		default:
			changes = append(changes, Change{Commit: c, Changed: true})
		}
	}
	return changes, nil
}

// Remove removes commits from the window. Every commit is validated before
// any is removed. A commit not in the window is reported unchanged.
func (w *Window) Remove(ctx context.Context, commits ...string) ([]Change, error) {
	commits, err := validate(commits)
	if err != nil {
		return nil, fmt.Errorf("remove from commit window: %w", err)
	}
	var changes []Change
	for _, c := range commits {
		_, err := w.kv.Get(ctx, subjects.WindowKey(c))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			changes = append(changes, Change{Commit: c})
			continue
		}
		if err == nil {
			err = w.kv.Delete(ctx, subjects.WindowKey(c))
		}
		if err != nil {
			return changes, fmt.Errorf("remove commit %s from window: %w", c, err)
		}
		changes = append(changes, Change{Commit: c, Changed: true})
	}
	return changes, nil
}

// Allows reports whether the window accepts episodes recorded at commit:
// true if commit is in the window, or if the window is empty. It reads the
// one key first and looks at the rest of the window only when that key is
// absent, stopping at the first live key. An invalid commit is an error
// wrapping subjects.ErrBadCommit: an unstamped episode is not a window
// question.
func (w *Window) Allows(ctx context.Context, commit string) (bool, error) {
	if err := subjects.ValidateCommit(commit); err != nil {
		return false, fmt.Errorf("check commit window: %w", err)
	}
	_, err := w.kv.Get(ctx, subjects.WindowKey(commit))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, fmt.Errorf("check commit %s in window: %w", commit, err)
	}
	if w.emptyFor > 0 {
		w.mu.Lock()
		fresh := !w.emptyAt.IsZero() && w.now().Sub(w.emptyAt) < w.emptyFor
		w.mu.Unlock()
		if fresh {
			return true, nil
		}
	}
	asked := w.now()
	empty, err := w.empty(ctx)
	if err != nil {
		return false, fmt.Errorf("check commit %s in window: %w", commit, err)
	}
	if w.emptyFor > 0 {
		w.mu.Lock()
		if empty && asked.After(w.emptyAt) {
			w.emptyAt = asked
		} else if !empty {
			w.emptyAt = time.Time{}
		}
		w.mu.Unlock()
	}
	return empty, nil
}

// empty reports whether the window has no live key.
func (w *Window) empty(ctx context.Context) (bool, error) {
	found := false
	err := w.live(ctx, func(jetstream.KeyValueEntry) bool {
		found = true
		return false
	})
	return !found, err
}
