package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// judge decides a submission. It returns a transient error when it cannot
// decide (the store or the window cannot be read); never a verdict it is
// not sure of. For an accepted episode with an archive_dir, the export is
// unpacked into a temp directory on the way and returned, to be committed
// after the decision is written.
func (r *Receiver) judge(ctx context.Context, host, msgID string, m *objectstore.Manifest, perr error, prev *objectstore.Verdict) (objectstore.Verdict, *export, error) {
	// An early read of this episode is finished below, or given up.
	er := r.early.take(host, m.EpisodeID)
	defer er.drop()
	v := objectstore.Verdict{
		Host: host, EpisodeID: m.EpisodeID, ArchiveSHA256: m.ArchiveSHA256, ArchiveBytes: m.ArchiveBytes,
		RawBytes: m.RawBytes, Files: m.Files, CodeVersion: m.CodeVersion,
		Submission: msgID, Receiver: r.o.ID, Time: time.Now().UTC(),
	}
	if prev != nil {
		v.AcceptedSHA256 = prev.AcceptedSHA256
	}
	if perr != nil {
		v.Reason, v.Detail = subjects.Malformed, perr.Error()
		return v, nil, nil
	}
	if v.AcceptedSHA256 != "" {
		if v.AcceptedSHA256 == m.ArchiveSHA256 {
			// Identical to the accepted version: accepted again, not re-read.
			v.Reason, v.Export, v.CodeVersion = subjects.Accepted, prev.Export, prev.CodeVersion
			return v, nil, nil
		}
		v.Reason = subjects.Conflict
		v.Detail = fmt.Sprintf("episode %s of host %s was accepted with archive sha256 %s; this submission has %s",
			m.EpisodeID, host, v.AcceptedSHA256, m.ArchiveSHA256)
		return v, nil, nil
	}

	st, err := r.store(ctx, host)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		v.Reason, v.Detail = subjects.Corrupt, fmt.Sprintf("%v: bucket %s does not exist", objectstore.ErrSegmentMissing, subjects.EpisodeBucket(host))
		return v, nil, nil
	}
	if err != nil {
		return v, nil, transient("open bucket of %s: %w", host, err)
	}
	var ex *export
	var res objectstore.ReadResult
	var rerr error
	used := false
	if er != nil {
		res, ex, used = er.finish(ctx, st, m, r)
	}
	if !used {
		if r.o.ArchiveDir != "" {
			ex, err = r.newExport(host, m)
			if errors.Is(err, errNeverFits) {
				v.Reason, v.Detail = subjects.Malformed, err.Error()
				return v, nil, nil
			}
			if err != nil {
				return v, nil, err
			}
		}
		res, rerr = objectstore.ReadArchive(ctx, countingSource{st}, m, r.o.Limits, ex.visitFunc())
	}
	reason, judged := objectstore.ReasonOf(rerr)
	if !judged {
		ex.abort()
		return v, nil, transient("read archive: %w", rerr)
	}
	if res.Meta.EpisodeID != "" {
		v.CodeVersion = res.Meta.CodeVersion
	}
	v.Reason = reason
	if rerr != nil {
		v.Detail = rerr.Error()
		if m, ok := rolledUp(ctx, r.js, subjects.EpisodeBucket(host)); ok && errors.Is(rerr, objectstore.ErrSegmentMissing) {
			v.Detail = fmt.Sprintf("host %s rolled up its whole bucket at seq %d (%s): every segment stored before is gone; %s",
				host, m.seq, m.time.UTC().Format(time.RFC3339), v.Detail)
		}
	} else if r.o.Window != nil {
		ok, err := r.o.Window.Allows(ctx, v.CodeVersion.Commit)
		if err != nil {
			ex.abort()
			return v, nil, transient("read window: %w", err)
		}
		if !ok {
			v.Reason = subjects.OutOfWindow
			v.Detail = fmt.Sprintf("commit %s is not in the window %s", v.CodeVersion.Commit, subjects.WindowBucket)
		}
	}
	if v.Reason != subjects.Accepted {
		ex.abort()
		return v, nil, nil
	}
	v.AcceptedSHA256 = m.ArchiveSHA256
	if ex != nil {
		v.Export = ex.final
	}
	return v, ex, nil
}
