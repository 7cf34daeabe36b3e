// Package httpold is the transport of the lab's earlier shipper, rebuilt in
// Go for benchmarks only: each ready episode is packed to an outbox file,
// sent with one HTTP PUT carrying its SHA-256, and the receiver writes the
// body to disk, fsyncs it, checks the digest, validates the archive
// (zstd, tar, a stamped meta.json first), renames it into place and
// answers with a status code. Status codes are the reference's: 201 stored,
// 200 identical to a stored one, 400 unstamped, 409 conflict, 422 corrupt
// or malformed; anything else, or no answer, is transient.
//
// It is what cis490 replaced, kept so `make bench` can measure against it.
// It is not part of the cis490 binary (bench/httpold_test.go checks).
package httpold

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// HeaderSHA256 carries the hex SHA-256 of the PUT body, as the old shipper sent it.
const HeaderSHA256 = "X-Content-Sha256"

// ErrRejected is returned by Ship for an episode the receiver refused for
// good (400, 409, 422): the old shipper quarantined those.
var ErrRejected = errors.New("rejected by the receiver")

// Receiver is the old design's hub side: an HTTP handler that stores each
// episode under Dir/<host>/<episode-id>.tar.zst.
type Receiver struct {
	// Dir holds the stored archives.
	Dir string
}

// ServeHTTP answers PUT /v1/episodes/<host>/<episode-id> and POST /v1/ping.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/ping" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/episodes/")
	host, id, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || r.Method != http.MethodPut {
		http.Error(w, "want PUT /v1/episodes/<host>/<episode-id>", http.StatusNotFound)
		return
	}
	code, msg := rc.store(r, host, id)
	http.Error(w, msg, code)
}

// store receives one episode and returns the status code and message.
func (rc *Receiver) store(r *http.Request, host, id string) (int, string) {
	if err := subjects.ValidateHost(host); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if err := subjects.ValidateEpisode(id); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	want := r.Header.Get(HeaderSHA256)
	if err := subjects.ValidateDigest(want); err != nil {
		return http.StatusBadRequest, HeaderSHA256 + ": " + err.Error()
	}
	dir := filepath.Join(rc.Dir, host)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	final := filepath.Join(dir, id+".tar.zst")
	if got, err := fileSHA256(final); err == nil {
		if got == want {
			return http.StatusOK, "identical to the stored episode"
		}
		return http.StatusConflict, fmt.Sprintf("episode %s already stored with digest %s", id, got)
	}
	f, err := os.CreateTemp(dir, id+".tar.zst.tmp-*")
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), r.Body, make([]byte, 1<<20))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return http.StatusInternalServerError, "write body: " + err.Error()
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return http.StatusUnprocessableEntity, fmt.Sprintf("corrupt: %d bytes received, Content-Length %d", n, r.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return http.StatusUnprocessableEntity, fmt.Sprintf("corrupt: body hashes to %s, %s says %s", got, HeaderSHA256, want)
	}
	if err := Validate(f.Name(), id); errors.Is(err, objectstore.ErrNotStamped) {
		return http.StatusBadRequest, err.Error()
	} else if err != nil {
		return http.StatusUnprocessableEntity, "malformed: " + err.Error()
	}
	if err := durable.Rename(f.Name(), final); err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	return http.StatusCreated, "stored"
}

// Validate reads the archive at path to its end: zstd, then tar, with
// regular files and directories only and meta.json first, stamped, of
// episode id.
func Validate(path, id string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(objectstore.MaxWindow))
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if i == 0 {
				return errors.New("empty archive")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("entry %q: type %q is neither a file nor a directory", hdr.Name, hdr.Typeflag)
		}
		if !filepath.IsLocal(hdr.Name) {
			return fmt.Errorf("entry %q: not a local path", hdr.Name)
		}
		if i == 0 {
			if hdr.Name != objectstore.MetaFile {
				return fmt.Errorf("first entry is %q, want %s", hdr.Name, objectstore.MetaFile)
			}
			b, err := io.ReadAll(io.LimitReader(tr, objectstore.MaxMetaSize+1))
			if err != nil {
				return fmt.Errorf("read %s: %w", objectstore.MetaFile, err)
			}
			m, err := objectstore.ParseMeta(b)
			if err != nil {
				return err
			}
			if m.EpisodeID != id {
				return fmt.Errorf("%s names episode %q, not %q", objectstore.MetaFile, m.EpisodeID, id)
			}
			continue
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("read entry %q: %w", hdr.Name, err)
		}
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Serve serves rc on ln until ctx is done.
func Serve(ctx context.Context, ln net.Listener, rc *Receiver) error {
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ShipOptions configures Ship.
type ShipOptions struct {
	// URL is the receiver's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Host is this lab host's id.
	Host string
	// DataDir holds episodes/, outbox/, shipped/ and quarantine/.
	DataDir string
	// Client defaults to an http.Client without a timeout.
	Client *http.Client
}

// Summary is what one Ship pass did.
type Summary struct {
	Shipped     int               `json:"shipped"`
	Quarantined int               `json:"quarantined"`
	Failed      map[string]string `json:"failed,omitempty"`
}

// Ship is one pass of the old shipper: every episode in episodes/ with a
// meta.json, in name order, one at a time, is packed to outbox/<id>.tar.zst
// (temp, fsync, rename), PUT with its SHA-256, and on 2xx moved to shipped/
// and its outbox file deleted; a refusal moves it to quarantine/.
func Ship(ctx context.Context, o ShipOptions) (Summary, error) {
	s := Summary{Failed: map[string]string{}}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	dirs := map[string]string{}
	for _, d := range []string{"episodes", "outbox", "shipped", "quarantine"} {
		dirs[d] = filepath.Join(o.DataDir, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return s, err
		}
	}
	entries, err := os.ReadDir(dirs["episodes"])
	if err != nil {
		return s, fmt.Errorf("scan episodes: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dirs["episodes"], e.Name(), objectstore.MetaFile)); e.IsDir() && err == nil {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		err := shipOne(ctx, o, dirs, id)
		switch {
		case err == nil:
			s.Shipped++
			err = durable.Rename(filepath.Join(dirs["episodes"], id), filepath.Join(dirs["shipped"], id))
		case errors.Is(err, ErrRejected):
			s.Quarantined++
			err = durable.Rename(filepath.Join(dirs["episodes"], id), filepath.Join(dirs["quarantine"], id))
		}
		if err != nil {
			s.Failed[id] = err.Error()
		}
		os.Remove(filepath.Join(dirs["outbox"], id+".tar.zst"))
	}
	if len(s.Failed) > 0 {
		return s, fmt.Errorf("%d episodes not shipped", len(s.Failed))
	}
	return s, nil
}

// shipOne packs one episode to the outbox and PUTs it.
func shipOne(ctx context.Context, o ShipOptions, dirs map[string]string, id string) error {
	out := filepath.Join(dirs["outbox"], id+".tar.zst")
	sum, size, err := packToOutbox(ctx, filepath.Join(dirs["episodes"], id), out)
	if err != nil {
		return fmt.Errorf("pack %s: %w", id, err)
	}
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, o.URL+"/v1/episodes/"+o.Host+"/"+id, f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set(HeaderSHA256, sum)
	req.Header.Set("Content-Type", "application/zstd")
	resp, err := o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("put %s: %w", id, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: put %s: %s: %s", ErrRejected, id, resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("put %s: %s: %s", id, resp.Status, bytes.TrimSpace(msg))
}

// packToOutbox packs dir into path durably and returns its hex SHA-256 and size.
func packToOutbox(ctx context.Context, dir, path string) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	_, err = objectstore.Pack(ctx, dir, cw, objectstore.PackOptions{})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = durable.Rename(f.Name(), path)
	}
	return hexSum(h), cw.n, err
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// MarshalSummary is the line `httpold ship` prints.
func MarshalSummary(s Summary) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ParseSummary reads the line MarshalSummary wrote.
func ParseSummary(line string) (Summary, error) {
	var s Summary
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return s, fmt.Errorf("parse httpold summary %q: %w", line, err)
	}
	return s, nil
}
