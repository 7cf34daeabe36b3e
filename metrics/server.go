package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds the graceful shutdown of the HTTP server; then open
// connections are closed.
var shutdownTimeout = 5 * time.Second

// Server serves a registry's metrics and a health check over HTTP. Create it
// with NewServer; Open starts it and Close stops it.
type Server struct {
	listen string
	reg    *prometheus.Registry
	logger *slog.Logger

	mu       sync.Mutex
	opened   bool
	addr     string             // the bound address; "" when disabled or not open
	cancel   context.CancelFunc // stops the server; nil if it never started
	serveErr error              // what http.Server.Serve returned, unless ErrServerClosed
	wg       sync.WaitGroup     // the serve and shutdown goroutines
}

// NewServer returns a Server for reg on listen, a host:port ("127.0.0.1:9490",
// ":9490"; port 0 picks a free port). An empty listen disables the server:
// Open and Close then do nothing. A nil reg means NewRegistry(); a nil logger
// means slog.Default().
func NewServer(listen string, reg *prometheus.Registry, logger *slog.Logger) *Server {
	if reg == nil {
		reg = NewRegistry()
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{listen: listen, reg: reg, logger: logger}
}

// Open binds the listen address and serves in the background until ctx is
// done or Close is called; then the server shuts down gracefully within 5 s.
// A listen error, such as the port being in use, is returned at once and
// names the address. Open returns an error if called twice.
func (s *Server) Open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return errors.New("open metrics server: already open")
	}
	s.opened = true
	if s.listen == "" {
		s.logger.Debug("metrics endpoint disabled")
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", s.listen, err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	addr := s.addr
	s.wg.Go(func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
		s.logger.Error("metrics server stopped", "addr", addr, "error", err)
		s.mu.Lock()
		s.serveErr = fmt.Errorf("serve metrics on %s: %w", addr, err)
		s.mu.Unlock()
	})
	s.wg.Go(func() {
		<-ctx.Done()
		sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer stop()
		if err := srv.Shutdown(sctx); err != nil {
			s.logger.Warn("metrics server shutdown", "addr", addr, "error", err)
			srv.Close()
		}
		s.logger.Debug("metrics endpoint closed", "addr", addr)
	})
	s.logger.Info("metrics endpoint listening", "addr", addr)
	return nil
}

// Addr returns the address the server listens on, with the port chosen for
// port 0, or "" when it is disabled or not open.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close shuts the server down gracefully (at most 5 s) and waits for it
// until ctx is done. It returns the server's own failure, if it stopped
// serving on its own. Close of a disabled, unopened or closed Server
// returns nil.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // finished as ctx ended
		default:
			return fmt.Errorf("close metrics server on %s: %w", s.Addr(), ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveErr
}

// handler routes GET /metrics and GET /healthz.
func (s *Server) handler() http.Handler {
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            s.reg,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(s.reg, metrics))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}
