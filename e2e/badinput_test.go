package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// badCommit stamps every episode of the bad-input corpus.
const badCommit = "0123456789abcdef0123456789abcdef01234567"

// badFull reports whether the full profile of the e2e scenarios runs
// (CIS490_E2E=full); the short one is the default, for make test.
func badFull() bool { return os.Getenv("CIS490_E2E") == "full" }

// badMeta is a stamped meta.json of episode id.
func badMeta(id string) []byte {
	return []byte(`{"episode_id":"` + id + `","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"` + badCommit + `"}}`)
}

// badEpisodeDir makes dataDir/episodes/<id> holding a stamped meta.json and
// returns its path; the caller adds the hostile part.
func badEpisodeDir(t testing.TB, dataDir, id string) string {
	t.Helper()
	dir := filepath.Join(dataDir, "episodes", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	badWrite(t, filepath.Join(dir, objectstore.MetaFile), badMeta(id))
	return dir
}

func badWrite(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// badExpect is what must become of one episode of the corpus: shipped, or
// quarantined with reason, decided by source ("hub" or "pre-flight"), with
// a detail that contains detail.
type badExpect struct {
	shipped bool
	reason  subjects.Reason
	source  string
	detail  string
}

// TestBadInputCorpus runs `cis490 publish --once` on a data directory that
// mixes good episodes with hostile ones a lab host can hold on disk, in
// front of a real hub and receiver: each hostile episode ends in
// quarantine/ with its reason, the good ones (zero-byte files and an
// episode of meta.json alone among them) ship, and their exports are the
// source bytes. Short profile: the receiver's max_files is 1,000 and its
// max_episode_bytes 64 MiB; full: the defaults (100,000 entries) and a
// 100,001-file episode.
func TestBadInputCorpus(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	archive := t.TempDir()
	maxFiles, maxBytes := 1000, int64(64<<20)
	if badFull() {
		maxFiles, maxBytes = objectstore.DefaultMaxFiles, 1<<30
	}
	badReceiver(t, h.url, archive, maxFiles, maxBytes)
	data := t.TempDir()
	want := map[string]badExpect{}
	accept := badExpect{shipped: true, reason: subjects.Accepted, source: "hub"}

	// Good episodes around the bad ones.
	for i := range 3 {
		id := "good-" + strconv.Itoa(i)
		labEpisode(t, data, id, badCommit, int64(100<<10*(i+1)))
		want[id] = accept
	}
	// Zero-byte files are valid data: they ship, and export as zero bytes.
	dir := badEpisodeDir(t, data, "zero-bytes")
	for _, name := range []string{"empty.bin", "cam/empty.csv", "deep/er/still-empty"} {
		badWrite(t, filepath.Join(dir, name), nil)
	}
	os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755)
	want["zero-bytes"] = accept
	// An episode of meta.json alone is a valid archive with one file: it
	// ships. Whether a recording without data is useful is for downstream
	// to say; the hub only judges what it can check.
	badEpisodeDir(t, data, "meta-only")
	want["meta-only"] = accept

	// Symlinks, to a file and to a directory outside the episode: the
	// packer refuses them, the publisher quarantines at once.
	dir = badEpisodeDir(t, data, "symlink-file")
	badWrite(t, filepath.Join(dir, "data.bin"), []byte("data"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	want["symlink-file"] = badExpect{reason: subjects.Malformed, source: "pre-flight", detail: "not a regular file or directory"}
	dir = badEpisodeDir(t, data, "symlink-dir")
	if err := os.Symlink("../..", filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	want["symlink-dir"] = badExpect{reason: subjects.Malformed, source: "pre-flight", detail: "not a regular file or directory"}
	// A named pipe would block a naive packer for ever.
	dir = badEpisodeDir(t, data, "fifo")
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	want["fifo"] = badExpect{reason: subjects.Malformed, source: "pre-flight", detail: "not a regular file or directory"}
	// A file name that is not UTF-8 cannot be carried: quarantined.
	dir = badEpisodeDir(t, data, "non-utf8")
	badWrite(t, filepath.Join(dir, "cam-\xff\xfe.bin"), []byte("latin-1 name"))
	want["non-utf8"] = badExpect{reason: subjects.Malformed, source: "pre-flight", detail: "bad file name"}
	// meta.json of 10 MB: valid JSON, but over the 1 MiB limit every reader
	// of meta.json keeps, so no daemon reads a hostile one into memory.
	dir = badEpisodeDir(t, data, "meta-10mb")
	big := append(badMeta("meta-10mb")[:len(badMeta("meta-10mb"))-1], `,"notes":"`...)
	big = append(big, bytes.Repeat([]byte("x"), 10_000_000)...)
	badWrite(t, filepath.Join(dir, objectstore.MetaFile), append(big, `"}`...))
	want["meta-10mb"] = badExpect{reason: subjects.Malformed, source: "pre-flight", detail: "meta.json too large"}
	// More entries than the receiver's max_files: the packer has no such
	// limit (it is the hub's policy), the hub judges it malformed.
	dir = badEpisodeDir(t, data, "many-files")
	for i := range maxFiles {
		badWrite(t, filepath.Join(dir, "f", strconv.Itoa(i%100), strconv.Itoa(i)), nil)
	}
	want["many-files"] = badExpect{reason: subjects.Malformed, source: "hub", detail: "too many files"}
	// A sparse file past max_episode_bytes: the archive is a few KiB, the
	// hub stops unpacking at the limit.
	dir = badEpisodeDir(t, data, "sparse-bomb")
	f, err := os.Create(filepath.Join(dir, "zeros.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want["sparse-bomb"] = badExpect{reason: subjects.Malformed, source: "hub", detail: "episode too large"}

	cmd := publishCmd(h.url, data, "--once")
	cmd.Env = append(cmd.Env, "CIS490_SHIP_SETTLE=1ms", "CIS490_SHIP_VERDICT_TIMEOUT=60s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("publish --once on the corpus: %v\n%s", err, out)
	}
	shipped, quarantined := badCheckLabHost(t, data, want, string(out))
	if !strings.Contains(string(out), fmt.Sprintf("shipped %d, quarantined %d, failed 0", shipped, quarantined)) {
		t.Fatalf("summary does not say shipped %d, quarantined %d, failed 0:\n%s", shipped, quarantined, out)
	}
	// Every accepted export is the source, byte for byte; zero-byte files
	// and the empty directory included. Nothing else was exported.
	for id, w := range want {
		if w.shipped {
			badSameTree(t, filepath.Join(data, "shipped", id), filepath.Join(archive, "lab1", id))
		}
	}
	entries, _ := os.ReadDir(filepath.Join(archive, "lab1"))
	for _, e := range entries {
		if e.IsDir() && !want[e.Name()].shipped {
			t.Errorf("archive holds %s, which was not accepted", e.Name())
		}
	}
}

// badCheckLabHost checks each episode of want against where it ended on
// the lab host, and returns how many shipped and how many were quarantined.
func badCheckLabHost(t *testing.T, data string, want map[string]badExpect, out string) (shipped, quarantined int) {
	t.Helper()
	for id, w := range want {
		marker := filepath.Join(data, "quarantine", id, workers.ReasonFile)
		if w.shipped {
			marker = filepath.Join(data, "shipped", id, workers.VerdictFile)
			shipped++
		} else {
			quarantined++
		}
		b, err := os.ReadFile(marker)
		if err != nil {
			t.Errorf("%s: %v\n%s", id, err, out)
			continue
		}
		var o workers.Outcome
		if w.shipped {
			// verdict.json is the hub's verdict.
			var v objectstore.Verdict
			err = json.Unmarshal(b, &v)
			o = workers.Outcome{Reason: v.Reason, Detail: v.Detail, Source: "hub"}
		} else {
			err = json.Unmarshal(b, &o)
		}
		if err != nil {
			t.Errorf("%s: %s: %v", id, marker, err)
			continue
		}
		if o.Reason != w.reason || o.Source != w.source || !strings.Contains(o.Detail, w.detail) {
			t.Errorf("%s ended %s by %s (%q), want %s by %s with %q", id, o.Reason, o.Source, o.Detail, w.reason, w.source, w.detail)
		}
		if exists(filepath.Join(data, "episodes", id)) {
			t.Errorf("%s is still in episodes/ as well", id)
		}
	}
	return shipped, quarantined
}

// badSameTree fails unless the tree at got holds the files and directories
// of want (the lab-host markers aside) with the same bytes.
func badSameTree(t *testing.T, want, got string) {
	t.Helper()
	list := func(root string) map[string]string {
		m := map[string]string{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == workers.VerdictFile || rel == workers.ReasonFile {
				return nil
			}
			if d.IsDir() {
				m[rel] = "dir"
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			m[rel] = fmt.Sprintf("%d bytes %x", len(b), sum[:8])
			return nil
		})
		return m
	}
	w, g := list(want), list(got)
	if len(w) == 0 || len(w) != len(g) {
		t.Errorf("export %s holds %d entries, source %s %d", got, len(g), want, len(w))
		return
	}
	for name, v := range w {
		if g[name] != v {
			t.Errorf("export %s: %s is %q, source %q", got, name, g[name], v)
		}
	}
}

// badReceiver starts `cis490 receive` with the given limits.
func badReceiver(t testing.TB, url, archive string, maxFiles int, maxBytes int64) {
	t.Helper()
	cmd := exec.Command(bin, "receive", "--server", url, "--archive-dir", archive, "--log-format", "json")
	cmd.Env = append(os.Environ(), "CIS490_RECEIVE_MAX_FILES="+strconv.Itoa(maxFiles),
		"CIS490_RECEIVE_MAX_EPISODE_BYTES="+strconv.FormatInt(maxBytes, 10)+"B")
	out := &hubtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("receiver output:\n%s", out.String())
		}
	})
}

// badTarEntry is one entry of a hand-made archive: hdr, then body, or
// zeros zero bytes when zeros > 0.
type badTarEntry struct {
	hdr   tar.Header
	body  []byte
	zeros int64
}

// badArchive is a hand-made tar+zstd stream of entries, padded after the
// tar end with pad zero bytes, compressed with a window of window bytes
// (0: the packer's). The packer would refuse to write any of this.
func badArchive(t testing.TB, entries []badTarEntry, pad int64, window int) []byte {
	t.Helper()
	if window == 0 {
		window = objectstore.MaxWindow
	}
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(window), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := e.hdr
		hdr.ModTime = time.Date(2026, 11, 20, 14, 3, 11, 0, time.UTC)
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body)) + e.zeros
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(tw, badZeros{}, e.zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, badZeros{}, pad); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// badZeros reads zero bytes for ever.
type badZeros struct{}

func (badZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// badSubmit stores archive in host's bucket as a lab host would, in
// segments of the smallest size, and submits a manifest of it that claims
// files, dirs and raw bytes; it returns the manifest.
func badSubmit(t testing.TB, js jetstream.JetStream, host, id string, archive []byte, files, dirs int, raw int64) objectstore.Manifest {
	t.Helper()
	ctx := t.Context()
	obs, err := hub.EnsureHostBucket(ctx, js, host, hub.DefaultResourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	st := objectstore.NewStore(js, obs)
	m := objectstore.Manifest{
		Version: objectstore.ManifestVersion, Host: host, EpisodeID: id,
		RecordedAt:  time.Date(2026, 11, 20, 14, 3, 11, 0, time.UTC),
		CodeVersion: objectstore.CodeVersion{Commit: badCommit},
		SegmentSize: objectstore.MinSegmentSize, ArchiveBytes: int64(len(archive)),
		RawBytes: raw, Files: files, Dirs: dirs,
	}
	for rest := archive; len(rest) > 0; {
		n := min(len(rest), objectstore.MinSegmentSize)
		s := sha256.Sum256(rest[:n])
		seg := objectstore.Segment{Size: int64(n), SHA256: hex.EncodeToString(s[:])}
		if _, err := st.Put(ctx, id, seg, bytes.NewReader(rest[:n])); err != nil {
			t.Fatalf("put segment of %s: %v", id, err)
		}
		m.Segments = append(m.Segments, seg)
		rest = rest[n:]
	}
	m.ArchiveSHA256 = objectstore.ArchiveDigest(m.Segments)
	body, err := m.Marshal()
	if err != nil {
		t.Fatalf("manifest of %s: %v", id, err)
	}
	msg := nats.NewMsg(subjects.SubmitSubject(host))
	msg.Data = body
	msg.Header.Set(subjects.HeaderMsgID, subjects.MsgID(host, id, m.ArchiveSHA256, 1))
	msg.Header.Set(subjects.HeaderHost, host)
	msg.Header.Set(subjects.HeaderEpisode, id)
	msg.Header.Set(subjects.HeaderArchiveSHA256, m.ArchiveSHA256)
	msg.Header.Set(subjects.HeaderManifestVersion, strconv.Itoa(objectstore.ManifestVersion))
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	return m
}

// badVerdict waits for the done verdict of host's episode id.
func badVerdict(t testing.TB, js jetstream.JetStream, host, id string) objectstore.Verdict {
	t.Helper()
	kv, err := js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	var v objectstore.Verdict
	hubtest.CheckFor(t, 2*time.Minute, 50*time.Millisecond, func() error {
		e, err := kv.Get(t.Context(), subjects.VerdictKey(host, id))
		if err != nil {
			return fmt.Errorf("verdict of %s: %w", id, err)
		}
		if v, err = objectstore.ParseVerdict(e.Value()); err != nil || !v.Done {
			return fmt.Errorf("verdict of %s not done (%v)", id, err)
		}
		return nil
	})
	return v
}

// TestBadInputHandMade uploads, through the object store API as a lab
// host would, archives the packer refuses to build (path traversal, an
// absolute path, symlink and hard link entries, a non-UTF-8 name, a
// meta.json of 10 MB, a file and a padding bomb, a zstd window past the
// limit, a manifest that lies), each between two good ones, and checks the
// `cis490 receive` process judges each malformed with its reason, records
// it on cis490.nack.<host>.malformed, deletes its segments, writes nothing
// outside its archive, and accepts the good ones.
func TestBadInputHandMade(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	root := t.TempDir()
	archive := filepath.Join(root, "archive")
	maxBytes := int64(64 << 20)
	badReceiver(t, h.url, archive, 1000, maxBytes)
	_, js := hubtest.Connect(t, h.url)

	escape := filepath.Join(root, "escaped")
	reg := func(name string, body []byte) badTarEntry {
		return badTarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: body}
	}
	meta := func(id string) badTarEntry { return reg(objectstore.MetaFile, badMeta(id)) }
	bomb := maxBytes + 1
	if badFull() {
		bomb = 4 << 30
	}
	cases := []struct {
		id      string
		entries func(id string) []badTarEntry
		pad     int64
		window  int
		files   int // claimed in the manifest; 0: count the regular entries
		detail  string
	}{
		{id: "traversal", detail: "path escapes the episode", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), reg("../../escaped", []byte("out"))}
		}},
		{id: "traversal-inner", detail: "path escapes the episode", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), {hdr: tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}}, reg("a/../../escaped", []byte("out"))}
		}},
		{id: "absolute", detail: "absolute path in archive", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), reg(escape, []byte("out"))}
		}},
		{id: "symlink", detail: "entry is not a regular file or directory", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), {hdr: tar.Header{Name: "passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}
		}},
		{id: "symlink-then-write", detail: "entry is not a regular file or directory", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), {hdr: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../.."}}, reg("up/escaped", []byte("out"))}
		}},
		{id: "hardlink", detail: "entry is not a regular file or directory", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), {hdr: tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}}}
		}},
		{id: "non-utf8", detail: "bad file name", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), reg("cam-\xff\xfe.bin", []byte("x"))}
		}},
		{id: "meta-10mb", detail: "meta.json too large", entries: func(id string) []badTarEntry {
			b := append(badMeta(id)[:len(badMeta(id))-1], `,"notes":"`...)
			b = append(append(b, bytes.Repeat([]byte("x"), 10_000_000)...), `"}`...)
			return []badTarEntry{reg(objectstore.MetaFile, b)}
		}},
		{id: "meta-not-first", detail: "meta.json is not the first entry", entries: func(id string) []badTarEntry {
			return []badTarEntry{reg("data.bin", []byte("x")), meta(id)}
		}},
		{id: "bomb-file", detail: "episode too large", entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), {hdr: tar.Header{Name: "zeros.bin", Typeflag: tar.TypeReg, Mode: 0o644}, zeros: bomb}}
		}},
		{id: "bomb-files", detail: "episode too large", entries: func(id string) []badTarEntry {
			es := []badTarEntry{meta(id)}
			for i := range 8 { // each under the limit, together over it
				es = append(es, badTarEntry{hdr: tar.Header{Name: "z" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644}, zeros: maxBytes/6 + 1})
			}
			return es
		}},
		{id: "bomb-padding", detail: "episode too large", pad: 4 * bomb, entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id)}
		}},
		{id: "wide-window", detail: "bad zstd stream", window: 64 << 20, entries: func(id string) []badTarEntry {
			noise := make([]byte, 9<<20)
			for i := range noise {
				noise[i] = byte(i*7 + i>>11)
			}
			return []badTarEntry{meta(id), reg("noise.bin", noise)}
		}},
		{id: "lying-manifest", detail: "archive does not match its manifest", files: 5, entries: func(id string) []badTarEntry {
			return []badTarEntry{meta(id), reg("data.bin", []byte("x"))}
		}},
	}
	type sent struct {
		m      objectstore.Manifest
		detail string
	}
	var all []sent
	submitGood := func(id string) {
		a := badArchive(t, []badTarEntry{meta(id), reg("data.bin", []byte("good "+id))}, 0, 0)
		all = append(all, sent{badSubmit(t, js, "lab1", id, a, 2, 0, int64(len(badMeta(id))+len("good "+id))), ""})
	}
	submitGood("good-first")
	for _, c := range cases {
		es := c.entries(c.id)
		files, raw := 0, int64(0)
		for _, e := range es {
			if e.hdr.Typeflag == tar.TypeReg {
				files++
				raw += int64(len(e.body)) + e.zeros
			}
		}
		if c.files != 0 {
			files = c.files
		}
		a := badArchive(t, es, c.pad, c.window)
		all = append(all, sent{badSubmit(t, js, "lab1", c.id, a, files, 0, raw), c.detail})
		submitGood("good-after-" + c.id)
	}

	obs, err := js.ObjectStore(t.Context(), subjects.EpisodeBucket("lab1"))
	if err != nil {
		t.Fatal(err)
	}
	st := objectstore.NewStore(js, obs)
	for _, s := range all {
		v := badVerdict(t, js, "lab1", s.m.EpisodeID)
		if s.detail == "" {
			if v.Reason != subjects.Accepted {
				t.Errorf("%s: verdict %s (%s), want accepted", s.m.EpisodeID, v.Reason, v.Detail)
			}
			continue
		}
		if v.Reason != subjects.Malformed || !strings.Contains(v.Detail, s.detail) {
			t.Errorf("%s: verdict %s (%s), want malformed with %q", s.m.EpisodeID, v.Reason, v.Detail, s.detail)
		}
		t.Logf("%-20s %s: %s", s.m.EpisodeID, v.Reason, v.Detail)
		// A reject's segments are deleted.
		for _, seg := range s.m.Segments {
			if has, err := st.Has(t.Context(), s.m.EpisodeID, seg); has || err != nil {
				t.Errorf("%s: segment %s still stored (%v) after the reject", s.m.EpisodeID, seg.SHA256[:12], err)
			}
		}
	}
	// One reject record for each hostile archive.
	qs, err := js.Stream(t.Context(), subjects.QuarantineStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := qs.Info(t.Context(), jetstream.WithSubjectFilter(subjects.NackSubject("lab1", subjects.Malformed)))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[subjects.NackSubject("lab1", subjects.Malformed)]; n != uint64(len(cases)) {
		t.Errorf("%d reject records on %s, want %d", n, subjects.NackSubject("lab1", subjects.Malformed), len(cases))
	}
	// Nothing escaped: root holds the archive and nothing else, and the
	// archive only the good episodes' exports and their sidecars.
	if entries, _ := os.ReadDir(root); len(entries) != 1 || entries[0].Name() != "archive" {
		t.Errorf("%s holds %v, want only archive/", root, entries)
	}
	entries, _ := os.ReadDir(filepath.Join(archive, "lab1"))
	for _, e := range entries {
		if !strings.HasPrefix(strings.TrimPrefix(e.Name(), "."), "good-") {
			t.Errorf("archive holds %s", e.Name())
		}
	}
	if len(entries) != 2*(len(cases)+1) {
		t.Errorf("archive holds %d entries, want an export and a sidecar for each of %d good episodes", len(entries), len(cases)+1)
	}
}
