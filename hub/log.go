package hub

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// LevelTrace is the slog level of nats-server trace lines (every protocol
// message), below slog.LevelDebug. The server traces only when the logger is
// enabled at this level.
const LevelTrace = slog.LevelDebug - 4

// serverLogger adapts a *slog.Logger to nats-server's server.Logger.
type serverLogger struct {
	log *slog.Logger
	// onFatal, if set, is called with each Fatalf message after it is logged.
	onFatal func(msg string)
}

var _ server.Logger = (*serverLogger)(nil)

// newServerLogger returns a server.Logger writing to log. Fatalf logs at
// error level with fatal=true and calls onFatal; it never exits the process.
func newServerLogger(log *slog.Logger, onFatal func(msg string)) *serverLogger {
	return &serverLogger{log: log, onFatal: onFatal}
}

// enabled reports whether the server should produce lines at level.
func (l *serverLogger) enabled(level slog.Level) bool {
	return l.log.Enabled(context.Background(), level)
}

func (l *serverLogger) logf(level slog.Level, format string, v []any, attrs ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...), attrs...)
}

// Noticef logs at info level.
func (l *serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }

// Warnf logs at warn level.
func (l *serverLogger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Errorf logs at error level.
func (l *serverLogger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Debugf logs at debug level.
func (l *serverLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Tracef logs at LevelTrace.
func (l *serverLogger) Tracef(format string, v ...any) { l.logf(LevelTrace, format, v) }

// Fatalf logs at error level with fatal=true and reports the message to
// onFatal. Unlike nats-server's own loggers it does not exit: the hub decides
// what a fatal server error means (Start returns it as an error).
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "fatal", true)
	if l.onFatal != nil {
		l.onFatal(msg)
	}
}
