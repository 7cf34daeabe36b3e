package objectstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// TestUploadBucketFull uploads into a bucket with a 1 MiB quota: the
// episode that does not fit fails with ErrBucketFull, and once the quota
// is raised the same upload resumes, sending only the segments missing.
func TestUploadBucketFull(t *testing.T) {
	js := runServer(t)
	ctx := context.Background()
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: subjects.EpisodeBucket(testHost), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st := objectstore.NewStore(js, obs)
	root := t.TempDir()
	upload := func(id string) (sent, skipped int, err error) {
		dir := writeEpisode(t, root, id, map[string][]byte{"data.bin": randomBytes(1200<<10, uint64(len(id)))})
		_, err = objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{
			Host: testHost, SegmentSize: objectstore.MinSegmentSize, SpoolDir: t.TempDir(),
			Progress: func(_ int, _ objectstore.Segment, s, _ bool) {
				if s {
					sent++
				} else {
					skipped++
				}
			},
		})
		return sent, skipped, err
	}
	if _, _, err := upload("ep-1"); err != nil {
		t.Fatalf("Upload of about 700 KiB packed into a 1 MiB bucket = %v", err)
	}
	sent, _, err := upload("ep-22")
	if !errors.Is(err, objectstore.ErrBucketFull) {
		t.Fatalf("Upload past the quota = %v, want ErrBucketFull", err)
	}
	if _, reason := objectstore.ReasonOf(err); reason {
		t.Fatalf("ReasonOf(%v) judges the episode; a full bucket says nothing about it", err)
	}
	t.Logf("Upload past the quota, after %d segments: %v", sent, err)

	stream, err := js.Stream(ctx, subjects.ObjectStream(subjects.EpisodeBucket(testHost)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxBytes = 2 << 20
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	again, skipped, err := upload("ep-22")
	if err != nil {
		t.Fatalf("Upload after the quota was raised = %v", err)
	}
	if skipped != sent || again == 0 {
		t.Fatalf("Upload after the quota was raised sent %d and skipped %d segments; %d were stored before", again, skipped, sent)
	}
}
