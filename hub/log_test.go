package hub

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestServerLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var fatals []string
	l := newServerLogger(
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "hub"),
		func(msg string) { fatals = append(fatals, msg) },
	)
	tests := []struct {
		log  func(string, ...any)
		want string // "" when the line must be dropped
	}{
		{l.Noticef, "level=INFO"},
		{l.Warnf, "level=WARN"},
		{l.Errorf, "level=ERROR"},
		{l.Debugf, "level=DEBUG"},
		{l.Tracef, ""},
		{l.Fatalf, "level=ERROR"},
	}
	for i, tt := range tests {
		buf.Reset()
		tt.log("port %d", 4222)
		got := buf.String()
		if tt.want == "" {
			if got != "" {
				t.Errorf("line %d: logged %q below the handler level", i, got)
			}
			continue
		}
		if !strings.Contains(got, tt.want) || !strings.Contains(got, `msg="port 4222"`) || !strings.Contains(got, "component=hub") {
			t.Errorf("line %d: logged %q, want %s msg=\"port 4222\" component=hub", i, got, tt.want)
		}
	}
	// Reaching here means Fatalf did not exit.
	if len(fatals) != 1 || fatals[0] != "port 4222" {
		t.Errorf("onFatal calls = %q, want [\"port 4222\"]", fatals)
	}
	if !l.enabled(slog.LevelDebug) || l.enabled(LevelTrace) {
		t.Errorf("enabled(debug), enabled(trace) = %v, %v, want true, false", l.enabled(slog.LevelDebug), l.enabled(LevelTrace))
	}
}
