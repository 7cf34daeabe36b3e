package receiver

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

// TestHeartbeatPetsOnlyOnProgress: while a submission is in hand, the
// watchdog is fed only when the archive's bytes moved since the last tick.
func TestHeartbeatPetsOnlyOnProgress(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t)
	_, js := hubtest.Connect(t, h.ClientURL())
	if _, err := js.Publish(t.Context(), subjects.SubmitSubject("lab1"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg := <-batch.Messages()
	if msg == nil {
		t.Fatal("no message fetched")
	}
	var pets atomic.Int64
	r := &Receiver{ackWait: 150 * time.Millisecond, o: Options{OnPass: func() { pets.Add(1) }}}
	var progress atomic.Int64
	stop := r.heartbeat(t.Context(), msg, &progress)
	defer stop()

	time.Sleep(300 * time.Millisecond) // several ticks with no progress
	if n := pets.Load(); n != 0 {
		t.Fatalf("%d pets without progress, want 0", n)
	}
	progress.Add(4096)
	hubtest.CheckFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if pets.Load() == 0 {
			return errNoPet
		}
		return nil
	})
}

var errNoPet = errorString("no pet after progress")

type errorString string

func (e errorString) Error() string { return string(e) }
