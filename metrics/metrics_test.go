package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cis490/cis490/metrics"
)

// openServer starts a Server for reg on a free loopback port and closes it
// when the test ends. It returns the server and its address.
func openServer(t testing.TB, ctx context.Context, reg *prometheus.Registry) (*metrics.Server, string) {
	t.Helper()
	s := metrics.NewServer("127.0.0.1:0", reg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	addr := s.Addr()
	if _, port, _ := net.SplitHostPort(addr); port == "" || port == "0" {
		t.Fatalf("Addr() = %q, want the bound port", addr)
	}
	return s, addr
}

// get fetches url and returns the status code and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// requireFree polls until addr can be bound again, or fails after 10 s.
func requireFree(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in use 10s after the server was told to stop: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	events := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cis490_test_events_total",
		Help: "Events counted by the test.",
	})
	reg.MustRegister(events)
	events.Add(3)
	_, addr := openServer(t, t.Context(), reg)

	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantLines  []string // lines the body must contain
	}{
		{"metrics", "/metrics", http.StatusOK, []string{
			"# TYPE cis490_test_events_total counter",
			"cis490_test_events_total 3",
			"# TYPE go_goroutines gauge",
			"# TYPE process_cpu_seconds_total counter",
		}},
		{"healthz", "/healthz", http.StatusOK, []string{"ok"}},
		{"unknown path", "/", http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, "http://"+addr+tt.path)
			if status != tt.wantStatus {
				t.Errorf("GET %s status = %d, want %d", tt.path, status, tt.wantStatus)
			}
			lines := strings.Split(body, "\n")
			for _, want := range tt.wantLines {
				found := false
				for _, l := range lines {
					found = found || l == want
				}
				if !found {
					t.Errorf("GET %s has no line %q; body:\n%s", tt.path, want, body)
				}
			}
		})
	}

	// The scrapes above are counted on the same registry.
	if _, body := get(t, "http://"+addr+"/metrics"); !strings.Contains(body, `promhttp_metric_handler_requests_total{code="200"}`) {
		t.Errorf("GET /metrics has no promhttp_metric_handler_requests_total line for code 200")
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	_, addr := openServer(t, t.Context(), metrics.NewRegistry())
	second := metrics.NewServer(addr, metrics.NewRegistry(), nil)
	err := second.Open(t.Context())
	if err == nil {
		second.Close(context.Background())
		t.Fatalf("Open on %s in use = nil, want an error", addr)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("Open on %s in use = %q, want the address in it", addr, err)
	}
	if err := second.Close(t.Context()); err != nil {
		t.Errorf("Close after a failed Open = %v, want nil", err)
	}
}

func TestStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(ctx context.CancelFunc, s *metrics.Server) error
	}{
		{"ctx done", func(cancel context.CancelFunc, _ *metrics.Server) error { cancel(); return nil }},
		{"Close", func(_ context.CancelFunc, s *metrics.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return s.Close(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, addr := openServer(t, ctx, metrics.NewRegistry())
			if status, _ := get(t, "http://"+addr+"/healthz"); status != http.StatusOK {
				t.Fatalf("GET /healthz status = %d, want 200", status)
			}
			if err := tt.stop(cancel, s); err != nil {
				t.Fatalf("stop: %v", err)
			}
			requireFree(t, addr)
		})
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	s := metrics.NewServer("", nil, nil)
	if err := s.Open(t.Context()); err != nil {
		t.Errorf("Open disabled = %v, want nil", err)
	}
	if got := s.Addr(); got != "" {
		t.Errorf("Addr() of a disabled server = %q, want empty", got)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close disabled = %v, want nil", err)
	}
}

func TestOpenTwice(t *testing.T) {
	t.Parallel()
	s, _ := openServer(t, t.Context(), nil)
	if err := s.Open(t.Context()); err == nil {
		t.Error("second Open = nil, want an error")
	}
}

func TestBadAddress(t *testing.T) {
	t.Parallel()
	s := metrics.NewServer("127.0.0.1", nil, nil) // no port
	err := s.Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Open(%q) = %v, want an error naming the address", "127.0.0.1", err)
	}
}
