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

// SetLeaderOnly makes s read small segments from the stream's leader even
// when the stream has one replica, for tests.
func (s *Store) SetLeaderOnly(on bool) { s.leaderOnly = on }
