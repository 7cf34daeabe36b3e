package objectstore

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetPublishMeta replaces how s publishes an object's info, for tests.
func (s *Store) SetPublishMeta(f func(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error)) {
	s.publishMeta = f
}
