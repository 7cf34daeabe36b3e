package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StockResult is what one stock client process did: objects that made it
// and objects that failed, with the first few errors.
type StockResult struct {
	OK     int      `json:"ok"`
	Failed int      `json:"failed"`
	Bytes  int64    `json:"bytes"`
	Errors []string `json:"errors,omitempty"`
}

func (r *StockResult) fail(err error) {
	r.Failed++
	if len(r.Errors) < 5 {
		r.Errors = append(r.Errors, err.Error())
	}
}

// stockPrefix starts the line a stock client process prints its result on.
const stockPrefix = "stock-result "

// PrintStockResult writes r as the line the runner reads, then the
// process's peak RSS (PrintPeakRSS).
func PrintStockResult(w io.Writer, r StockResult) {
	defer PrintPeakRSS(w)
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "%s%s\n", stockPrefix, b)
}

func parseStockResult(line string) (StockResult, error) {
	var r StockResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("parse stock result %q: %w", line, err)
	}
	return r, nil
}

// stockConnect connects to url and opens bucket, which must exist.
func stockConnect(ctx context.Context, url, bucket string) (*nats.Conn, jetstream.ObjectStore, error) {
	nc, err := nats.Connect(url, nats.Name("cis490 bench stock client"))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	return nc, obs, nil
}

// StockPut puts every file in dir, in name order, into bucket with one
// stock ObjectStore.Put each, named by the file's name, as a user of the
// stock client would: no deadline but the client's own, no retry. A
// failed put is counted, not fatal.
func StockPut(ctx context.Context, url, bucket, dir string) (StockResult, error) {
	var r StockResult
	nc, obs, err := stockConnect(ctx, url, bucket)
	if err != nil {
		return r, err
	}
	defer nc.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return r, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return r, err
		}
		t0 := time.Now()
		info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: e.Name()}, f)
		f.Close()
		if err != nil {
			r.fail(fmt.Errorf("put %s after %v: %w", e.Name(), time.Since(t0).Round(time.Millisecond), err))
			continue
		}
		r.OK++
		r.Bytes += int64(info.Size)
	}
	return r, nil
}

// StockGet reads every object in bucket, in name order, with one stock
// ObjectStore.Get each, drained to its end so that the client checks the
// digest. Each Get has a deadline of 30 s plus 10 s a GiB (without one the
// client gives a whole download 5 s). A failed get is counted, not fatal.
func StockGet(ctx context.Context, url, bucket string) (StockResult, error) {
	var r StockResult
	nc, obs, err := stockConnect(ctx, url, bucket)
	if err != nil {
		return r, err
	}
	defer nc.Close()
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("list %s: %w", bucket, err)
	}
	slices.SortFunc(infos, func(a, b *jetstream.ObjectInfo) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	buf := make([]byte, 128<<10)
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		n, err := stockGetOne(ctx, obs, info, buf)
		if err != nil {
			r.fail(err)
			continue
		}
		r.OK++
		r.Bytes += n
	}
	return r, nil
}

func stockGetOne(ctx context.Context, obs jetstream.ObjectStore, info *jetstream.ObjectInfo, buf []byte) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second+time.Duration(info.Size/(100<<20))*time.Second)
	defer cancel()
	rd, err := obs.Get(ctx, info.Name)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", info.Name, err)
	}
	defer rd.Close()
	n, err := io.CopyBuffer(io.Discard, rd, buf)
	if err != nil {
		return n, fmt.Errorf("get %s after %d bytes: %w", info.Name, n, err)
	}
	return n, nil
}
