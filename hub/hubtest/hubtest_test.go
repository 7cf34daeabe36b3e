package hubtest_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

func TestRunServer(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t, func(o *hub.Options) { o.Resources.VerdictHistory = 7 })
	_, js := hubtest.Connect(t, h.ClientURL())
	if _, err := js.Stream(t.Context(), subjects.SubmissionsStream); err != nil {
		t.Fatalf("Stream(%q) = %v", subjects.SubmissionsStream, err)
	}
	kv, err := js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatalf("KeyValue(%q) = %v", subjects.VerdictsBucket, err)
	}
	st, err := kv.Status(t.Context())
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	if st.History() != 7 {
		t.Errorf("%s History = %d, want 7 from the option function", subjects.VerdictsBucket, st.History())
	}
}

func TestCheckFor(t *testing.T) {
	t.Parallel()
	n := 0
	hubtest.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return fmt.Errorf("call %d", n)
		}
		return nil
	})
	if n != 3 {
		t.Errorf("CheckFor called fn %d times, want 3", n)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("3-node cluster: skipped with -short")
	}
	c := hubtest.RunCluster(t, 3)
	if got := len(c.Servers()); got != 3 {
		t.Fatalf("Servers() = %d servers, want 3", got)
	}
	_, js := hubtest.Connect(t, c.URL())

	s, err := js.Stream(t.Context(), subjects.SubmissionsStream)
	if err != nil {
		t.Fatalf("Stream(%q) = %v", subjects.SubmissionsStream, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	if info.Config.Replicas != 3 {
		t.Errorf("%s Replicas = %d, want 3", subjects.SubmissionsStream, info.Config.Replicas)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		t.Errorf("%s cluster = %+v, want a leader and 2 replicas", subjects.SubmissionsStream, info.Cluster)
	}

	o := hub.DefaultResourceOptions()
	o.Replicas = 3
	obs, err := hub.EnsureHostBucket(t.Context(), js, "lab1", o)
	if err != nil {
		t.Fatalf("EnsureHostBucket(lab1, R3) = %v", err)
	}
	st, err := obs.Status(t.Context())
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	if st.Replicas() != 3 {
		t.Errorf("%s Replicas = %d, want 3", st.Bucket(), st.Replicas())
	}
	want := []byte("segment bytes")
	name := subjects.SegmentObject("2026-11-20T14-03-11_lab1_0042", "0000000000000000000000000000000000000000000000000000000000000000")
	if _, err := obs.PutBytes(t.Context(), name, want); err != nil {
		t.Fatalf("PutBytes(%q) = %v", name, err)
	}
	got, err := obs.GetBytes(t.Context(), name)
	if err != nil {
		t.Fatalf("GetBytes(%q) = %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("GetBytes(%q) = %q, want %q", name, got, want)
	}

	// Lose one node: the R3 bucket still serves; restart it and it rejoins.
	c.Kill(0)
	if c.Hub(0) != nil {
		t.Fatal("Hub(0) after Kill = non-nil")
	}
	hubtest.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		r, err := obs.Get(t.Context(), name)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadAll(r)
		return err
	})
	c.Restart(0)
	c.WaitForMetaLeader()
	if len(c.Servers()) != 3 {
		t.Errorf("Servers() after Restart = %d, want 3", len(c.Servers()))
	}
}
