package journald

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// Identifier is the SYSLOG_IDENTIFIER of every entry.
const Identifier = "cis490"

// DefaultSendTimeout is how long a record waits for journal.Send before it
// is written to stderr instead, when Options.SendTimeout is 0. A journald
// that reads its socket takes a datagram at once; a send blocks only when
// journald has stopped reading and its socket's queue is full.
const DefaultSendTimeout = time.Second

// Options configure a Handler.
type Options struct {
	// Level is the minimum level of the records handled; nil means
	// slog.LevelInfo.
	Level slog.Leveler

	// SendTimeout bounds the wait for one record's send; 0 means
	// DefaultSendTimeout.
	SendTimeout time.Duration
}

// Handler is a slog.Handler that sends each record to the journal as an
// entry of fields (see the package doc), and writes it to stderr as a text
// line when the journal does not take it. Its methods are safe for
// concurrent use.
type Handler struct {
	level  slog.Leveler
	out    *output
	prefix string       // the open groups, each followed by "."
	fields []field      // the attributes of With, flattened
	text   slog.Handler // writes the text line to out.buf: MESSAGE, stderr
}

var _ slog.Handler = (*Handler)(nil)

// output is what a Handler and those derived from it by WithAttrs and
// WithGroup share.
type output struct {
	timeout time.Duration
	stream  bool // stderr is the journal's stream: lines start with <N>

	mu  sync.Mutex   // guards buf and the handlers writing to it
	buf bytes.Buffer // one text line, rendered by a Handler's text

	wmu     sync.Mutex // guards stderr and failing
	stderr  io.Writer
	failing bool // the last send failed; the next failure is not announced

	stuck atomic.Int32 // sends past their timeout, not returned yet
	base  slog.Handler // text handler without attributes, for the announcement
}

// NewHandler returns a Handler sending to the journal, falling back to
// stderr. A nil opts means the defaults.
func NewHandler(stderr io.Writer, opts *Options) *Handler {
	if opts == nil {
		opts = &Options{}
	}
	o := &output{timeout: opts.SendTimeout, stream: IsJournalStream(stderr), stderr: stderr}
	if o.timeout <= 0 {
		o.timeout = DefaultSendTimeout
	}
	var level slog.Leveler = slog.LevelInfo
	if opts.Level != nil {
		level = opts.Level
	}
	o.base = slog.NewTextHandler(&o.buf, nil) // Handle renders any level: Enabled filters
	return &Handler{level: level, out: o, text: o.base}
}

// Enabled reports whether level is at least the handler's level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// WithAttrs returns a Handler whose records carry attrs too.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.fields = slices.Clip(h.fields)
	for _, a := range attrs {
		h2.fields = appendFields(h2.fields, h.prefix, a)
	}
	h2.text = h.text.WithAttrs(attrs)
	return &h2
}

// WithGroup returns a Handler that qualifies later attributes with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	h2.text = h.text.WithGroup(name)
	return &h2
}

// Handle sends r to the journal, or writes it to stderr if the journal does
// not take it within the send timeout. It returns an error only when
// neither took it.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	vars := make(map[string]string, len(h.fields)+r.NumAttrs()+1)
	for _, f := range h.fields {
		vars[f.name] = f.value
	}
	r.Attrs(func(a slog.Attr) bool {
		for _, f := range appendFields(nil, h.prefix, a) {
			vars[f.name] = f.value
		}
		return true
	})
	vars["SYSLOG_IDENTIFIER"] = Identifier
	msg, err := h.message(ctx, r)
	if err == nil {
		err = h.out.send(msg, priority(r.Level), vars)
	}
	if err == nil {
		h.out.recovered()
		return nil
	}
	return h.out.fallback(ctx, h.text, r, err)
}

// linePrefix starts the text line of a record with no time, level INFO
// and an empty message: what message renders, to keep the attributes.
const linePrefix = `level=INFO msg=""`

// message returns the MESSAGE of r: its message and its attributes in
// logfmt. The attributes are the text line of r with no time (the text
// handler omits a zero time), level INFO and an empty message, less
// linePrefix: unlike a ReplaceAttr dropping the keys time, level and msg,
// this keeps attributes that have those keys.
func (h *Handler) message(ctx context.Context, r slog.Record) (string, error) {
	bare := r // only plain fields change: the attributes stay shared
	bare.Time, bare.Level, bare.Message = time.Time{}, slog.LevelInfo, ""
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Reset()
	if err := h.text.Handle(ctx, bare); err != nil {
		return "", fmt.Errorf("render message: %w", err)
	}
	line := strings.TrimSuffix(o.buf.String(), "\n")
	attrs, ok := strings.CutPrefix(line, linePrefix)
	if !ok {
		return "", fmt.Errorf("render message: text line %q does not start with %s", line, linePrefix)
	}
	attrs = strings.TrimPrefix(attrs, " ")
	switch {
	case attrs == "":
		return r.Message, nil
	case r.Message == "":
		return attrs, nil
	}
	return r.Message + " " + attrs, nil
}

// send calls journal.Send and waits for it at most o.timeout. While an
// earlier send is stuck it does not try.
func (o *output) send(msg string, pri journal.Priority, vars map[string]string) error {
	if n := o.stuck.Load(); n > 0 {
		return fmt.Errorf("journal send: %d earlier sends have not returned", n)
	}
	done := make(chan error, 1)
	go func() { done <- journal.Send(msg, pri, vars) }()
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("journal send: %w", err)
		}
		return nil
	case <-timer.C:
		o.stuck.Add(1)
		go func() {
			<-done
			o.stuck.Add(-1)
		}()
		return fmt.Errorf("journal send: no return within %s", o.timeout)
	}
}

// recovered notes a send that worked: the next failure is announced again.
func (o *output) recovered() {
	o.wmu.Lock()
	o.failing = false
	o.wmu.Unlock()
}

// fallback writes r to stderr as text's line, after a warning naming
// sendErr if this is the first failure since a send last worked.
func (o *output) fallback(ctx context.Context, text slog.Handler, r slog.Record, sendErr error) error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if !o.failing {
		o.failing = true
		w := slog.NewRecord(time.Now(), slog.LevelWarn, "journal does not take log records; writing them to stderr until it does", 0)
		w.AddAttrs(slog.String("component", "journald"), slog.Any("error", sendErr))
		if err := o.writeLine(ctx, o.base, w); err != nil {
			return err
		}
	}
	return o.writeLine(ctx, text, r)
}

// writeLine renders r with h and writes it to stderr, preceded by its
// syslog priority as "<N>" when stderr is the journal's stream. The caller
// holds o.wmu.
func (o *output) writeLine(ctx context.Context, h slog.Handler, r slog.Record) error {
	o.mu.Lock()
	o.buf.Reset()
	if o.stream {
		o.buf.WriteString("<" + strconv.Itoa(int(priority(r.Level))) + ">")
	}
	err := h.Handle(ctx, r)
	line := slices.Clone(o.buf.Bytes())
	o.mu.Unlock()
	if err != nil {
		return fmt.Errorf("render log line: %w", err)
	}
	if _, err := o.stderr.Write(line); err != nil {
		return fmt.Errorf("write log line to stderr: %w", err)
	}
	return nil
}
