package window

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

// commit returns a valid commit: n in hex, padded with zeros to 40 digits.
func commit(n int) string { return fmt.Sprintf("%040x", n) }

// openWindow starts a hub and opens its window with opts.
func openWindow(t testing.TB, opts ...Option) (*Window, jetstream.JetStream) {
	t.Helper()
	h := hubtest.RunServer(t)
	_, js := hubtest.Connect(t, h.ClientURL())
	w, err := Open(t.Context(), js, append([]Option{WithAddedBy("tester@lab")}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w, js
}

// commitsOf returns the commits of list.
func commitsOf(list []Entry) []string {
	var c []string
	for _, e := range list {
		c = append(c, e.Commit)
	}
	return c
}

// mustList lists w or fails the test.
func mustList(t testing.TB, w *Window) []Entry {
	t.Helper()
	list, err := w.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return list
}

func TestOpenWithoutBucket(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t, func(o *hub.Options) { o.NoResources = true })
	_, js := hubtest.Connect(t, h.ClientURL())
	_, err := Open(t.Context(), js)
	if !errors.Is(err, jetstream.ErrBucketNotFound) || !strings.Contains(err.Error(), subjects.WindowBucket) {
		t.Errorf("Open without the bucket = %v, want ErrBucketNotFound naming %s", err, subjects.WindowBucket)
	}
}

func TestAddListRemove(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 14, 3, 11, 0, time.UTC)
	w, js := openWindow(t, WithClock(func() time.Time { return now }))
	ctx := t.Context()
	c1, c2, c3 := commit(1), commit(2), commit(3)

	if list := mustList(t, w); len(list) != 0 {
		t.Fatalf("List of a new window = %v, want empty", list)
	}
	changes, err := w.Add(ctx, "release 1.4", c1, c2, c1)
	want := []Change{{c1, true}, {c2, true}}
	if err != nil || !slices.Equal(changes, want) {
		t.Fatalf("Add(c1, c2, c1) = %v, %v; want %v", changes, err, want)
	}
	got := mustList(t, w)
	wantList := []Entry{
		{Commit: c1, AddedAt: now, AddedBy: "tester@lab", Note: "release 1.4"},
		{Commit: c2, AddedAt: now, AddedBy: "tester@lab", Note: "release 1.4"},
	}
	if !entriesEqual(got, wantList) {
		t.Errorf("List = %+v, want %+v", got, wantList)
	}

	// The stored value is the documented JSON, readable with nats kv get.
	kv, err := js.KeyValue(ctx, subjects.WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, subjects.WindowKey(c1))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]string
	if err := json.Unmarshal(e.Value(), &raw); err != nil || raw["added_at"] != "2026-11-20T14:03:11Z" ||
		raw["added_by"] != "tester@lab" || raw["note"] != "release 1.4" || len(raw) != 3 {
		t.Errorf("stored value = %s (%v), want added_at, added_by and note", e.Value(), err)
	}

	// Adding again keeps the first note.
	now = now.Add(time.Hour)
	changes, err = w.Add(ctx, "again", c2, c3)
	want = []Change{{c2, false}, {c3, true}}
	if err != nil || !slices.Equal(changes, want) {
		t.Errorf("Add(c2, c3) = %v, %v; want %v", changes, err, want)
	}
	if got := mustList(t, w); len(got) != 3 || got[1].Note != "release 1.4" || got[2].Commit != c3 || got[2].Note != "again" {
		t.Errorf("List after re-adding = %+v, want c2 with its first note and c3 last", got)
	}

	changes, err = w.Remove(ctx, c1, commit(9))
	want = []Change{{c1, true}, {commit(9), false}}
	if err != nil || !slices.Equal(changes, want) {
		t.Errorf("Remove(c1, absent) = %v, %v; want %v", changes, err, want)
	}
	if got := commitsOf(mustList(t, w)); !slices.Equal(got, []string{c2, c3}) {
		t.Errorf("List after Remove = %v, want [c2 c3]", got)
	}
	// Removed commits can come back.
	if changes, err := w.Add(ctx, "back", c1); err != nil || !slices.Equal(changes, []Change{{c1, true}}) {
		t.Errorf("Add(removed c1) = %v, %v; want it added", changes, err)
	}
}

// entriesEqual compares entries, times with Equal.
func entriesEqual(a, b []Entry) bool {
	return slices.EqualFunc(a, b, func(x, y Entry) bool {
		return x.Commit == y.Commit && x.AddedAt.Equal(y.AddedAt) && x.AddedBy == y.AddedBy && x.Note == y.Note
	})
}

func TestListOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	w, _ := openWindow(t, WithClock(func() time.Time { return now }))
	ctx := t.Context()
	now = t0.Add(2 * time.Hour)
	if _, err := w.Add(ctx, "", commit(5)); err != nil {
		t.Fatal(err)
	}
	now = t0
	if _, err := w.Add(ctx, "", commit(9), commit(7)); err != nil {
		t.Fatal(err)
	}
	want := []string{commit(7), commit(9), commit(5)} // by time, then commit
	if got := commitsOf(mustList(t, w)); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestBadCommitRejected(t *testing.T) {
	t.Parallel()
	w, _ := openWindow(t)
	ctx := t.Context()
	good := commit(1)
	if _, err := w.Add(ctx, "", good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "abc123", strings.ToUpper(commit(0xabcdef)), commit(2) + "0", "g" + commit(2)[1:]} {
		t.Run(bad, func(t *testing.T) {
			_, err := w.Add(ctx, "", commit(3), bad)
			if !errors.Is(err, subjects.ErrBadCommit) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
				t.Errorf("Add(good, %q) = %v, want ErrBadCommit naming it", bad, err)
			}
			_, err = w.Remove(ctx, good, bad)
			if !errors.Is(err, subjects.ErrBadCommit) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
				t.Errorf("Remove(good, %q) = %v, want ErrBadCommit naming it", bad, err)
			}
			_, err = w.Allows(ctx, bad)
			if !errors.Is(err, subjects.ErrBadCommit) {
				t.Errorf("Allows(%q) = %v, want ErrBadCommit", bad, err)
			}
		})
	}
	// Nothing was added or removed: validation comes first.
	if got := commitsOf(mustList(t, w)); !slices.Equal(got, []string{good}) {
		t.Errorf("List after rejected calls = %v, want [%s]", got, good)
	}
}

// allowsCheck returns a check that w.Allows(c) is want, its failures
// prefixed with when().
func allowsCheck(t *testing.T, w *Window, when func() string) func(c string, want bool) {
	return func(c string, want bool) {
		t.Helper()
		got, err := w.Allows(t.Context(), c)
		if err != nil || got != want {
			t.Errorf("%sAllows(%s) = %v, %v; want %v", when(), c, got, err, want)
		}
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	w, _ := openWindow(t)
	ctx := t.Context()
	in, out := commit(1), commit(2)
	allows := allowsCheck(t, w, func() string { return "" })

	allows(in, true) // never-used window: empty
	allows(out, true)
	if _, err := w.Add(ctx, "", in); err != nil {
		t.Fatal(err)
	}
	allows(in, true)
	allows(out, false)
	if _, err := w.Remove(ctx, in); err != nil {
		t.Fatal(err)
	}
	allows(out, true) // only a delete marker left: empty again
	allows(in, true)
}

// TestAllowsEmptyFor: with WithEmptyFor, a window found empty is taken as
// empty for that long without asking the hub (a commit added meanwhile is
// not seen), then asked again; a window found not empty is asked every
// time, so a refusal is never from the cache.
func TestAllowsEmptyFor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	w, js := openWindow(t, WithClock(func() time.Time { return now }), WithEmptyFor(time.Second))
	ctx := t.Context()
	in, out := commit(1), commit(2)
	allows := allowsCheck(t, w, func() string { return "at " + now.Format("15:04:05.000") + ", " })
	allows(out, true) // found empty
	other, err := Open(ctx, js, WithAddedBy("admin@hub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(ctx, "", in); err != nil {
		t.Fatal(err)
	}
	now = now.Add(900 * time.Millisecond)
	allows(out, true) // still taken as empty
	allows(in, true)  // read from its key
	now = now.Add(200 * time.Millisecond)
	allows(out, false) // asked again: not empty
	if _, err := other.Remove(ctx, in); err != nil {
		t.Fatal(err)
	}
	allows(out, true) // a window found not empty was not cached
}

// TestAllowsPastManyMarkers fills the window with hundreds of delete
// markers, so that emptiness is decided past them, and checks that no
// consumer was made on the way (a lab host may create none).
func TestAllowsPastManyMarkers(t *testing.T) {
	t.Parallel()
	w, js := openWindow(t)
	ctx := t.Context()
	var removed []string
	for i := range 522 {
		removed = append(removed, commit(1000+i))
	}
	if _, err := w.Add(ctx, "", removed...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Remove(ctx, removed...); err != nil {
		t.Fatal(err)
	}
	probe := commit(1)
	if ok, err := w.Allows(ctx, probe); err != nil || !ok {
		t.Errorf("Allows with only markers = %v, %v; want true", ok, err)
	}
	// A live key delivered after every marker.
	if _, err := w.Add(ctx, "", commit(2)); err != nil {
		t.Fatal(err)
	}
	if ok, err := w.Allows(ctx, probe); err != nil || ok {
		t.Errorf("Allows(absent) with one live key after the markers = %v, %v; want false", ok, err)
	}

	// No consumer was made: the stream never had one.
	kv, err := js.KeyValue(ctx, subjects.WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Name
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Consumers; n != 0 {
		t.Errorf("stream %s has %d consumers, want 0", stream, n)
	}
	if _, err := w.List(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err = js.Stream(ctx, stream); err != nil || s.CachedInfo().State.Consumers != 0 {
		t.Errorf("after List: stream %s info = %v, consumers %d, want none", stream, err, s.CachedInfo().State.Consumers)
	}
}

func TestListUnreadableValue(t *testing.T) {
	t.Parallel()
	w, js := openWindow(t)
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, subjects.WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, commit(4), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	list := mustList(t, w)
	if len(list) != 1 || list[0].Commit != commit(4) || !strings.Contains(list[0].Note, "unreadable value") {
		t.Errorf("List with a bad value = %+v, want the key listed with a note saying so", list)
	}
}
