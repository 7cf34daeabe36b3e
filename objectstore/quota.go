package objectstore

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrBucketFull is returned by Upload when the host's bucket has no room
// for a segment under its MaxBytes quota. Nothing is wrong with the
// episode: it is transient for the publisher, which backs off and ships
// once the hub admin frees space or grows the quota.
var ErrBucketFull = errors.New("host bucket full: its quota is reached")

// errCodeStoreFailed is the JetStream error code of a message the stream
// could not store (JSStreamStoreFailedF); its description is the store's
// error, which for a stream at its MaxBytes with DiscardNew (every object
// bucket) is the server's ErrMaxBytes text. The server has no code of its
// own for a full stream, so this pair is the one place it is recognized.
const (
	errCodeStoreFailed  jetstream.ErrorCode = 10077
	errMaxBytesExceeded                     = "maximum bytes exceeded"
)

// bucketFull wraps err, a failed put of seg, with ErrBucketFull when it is
// the server refusing a chunk because the bucket reached its quota.
func bucketFull(err error, seg Segment) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed && apiErr.Description == errMaxBytesExceeded {
		return fmt.Errorf("%w: a segment of %d bytes does not fit: %w", ErrBucketFull, seg.Size, err)
	}
	return err
}
