package doctor

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/subjects"
)

// LabHost runs the checks of a lab host.
type LabHost struct {
	// ConfigPath is the --config file, "" for none.
	ConfigPath string
	// Config is the configuration as loaded: defaults, file, environment,
	// flags. When ConfigErr is set it is what could be loaded.
	Config config.Publisher
	// ConfigErr is the error of loading or validating Config, or nil.
	ConfigErr error
	// Since is how far back reject records are read (DefaultSince if 0).
	Since time.Duration
	// StuckAfter is when an episode that has not moved is stuck
	// (DefaultStuckAfter if 0).
	StuckAfter time.Duration
	// Unit is the publisher's systemd unit (PublisherUnit if "").
	Unit string
	// Now is the clock (time.Now if nil).
	Now func() time.Time

	// systemctl and bootedDir replace "systemctl" and SystemdBootedDir in tests.
	systemctl, bootedDir string
}

// Flags are the publisher flags the fixes repeat: "--config F", or the
// host id and data dir when there is no file.
func (l LabHost) Flags() string {
	if l.ConfigPath != "" {
		return "--config " + shellQuote(l.ConfigPath)
	}
	s := ""
	if l.Config.HostID != "" {
		s = "--host-id " + shellQuote(l.Config.HostID) + " "
	}
	return s + "--data-dir " + shellQuote(l.Config.DataDir)
}

// Run runs every check and returns the report, rows in this order: config,
// hub, bucket, backlog, quarantine, disk, nacks, systemd. With the hub
// unreachable, bucket and nacks are skipped; with an invalid host id
// bucket and nacks are skipped, with a relative data_dir the local rows.
// The checks that wait on the network run concurrently.
func (l LabHost) Run(ctx context.Context) Report {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	start := now()
	cfg := l.Config
	flags := l.Flags()
	unit := l.Unit
	if unit == "" {
		unit = PublisherUnit
	}
	rows := make([]Row, 8)
	const (
		iConfig = iota
		iHub
		iBucket
		iBacklog
		iQuarantine
		iDisk
		iNacks
		iSystemd
	)
	rows[iConfig] = Config(l.ConfigPath, cfg, l.ConfigErr)

	var wg sync.WaitGroup
	wg.Go(func() {
		if l.systemctl != "" {
			rows[iSystemd] = systemd(ctx, unit, l.systemctl, l.bootedDir)
			return
		}
		rows[iSystemd] = Systemd(ctx, unit)
	})
	wg.Go(func() {
		hostErr := subjects.ValidateHost(cfg.HostID)
		conn, hubRow := Hub(ctx, cfg.NATS, HubFix{
			Recheck: "cis490 publish --ping " + flags,
			Config:  "cis490 config check --config " + shellQuote(orDefault(l.ConfigPath, DefaultConfigPath)),
		})
		defer conn.Close()
		rows[iHub] = hubRow
		switch {
		case conn == nil:
			rows[iBucket] = skip("bucket", "no connection to the hub")
			rows[iNacks] = skip("nacks", "no connection to the hub")
			return
		case hostErr != nil:
			rows[iBucket] = skip("bucket", "no valid host_id (see config)")
			rows[iNacks] = skip("nacks", "no valid host_id (see config)")
			return
		}
		var hw sync.WaitGroup
		hw.Go(func() { rows[iBucket] = Bucket(ctx, conn, cfg.HostID, int64(cfg.Ship.SegmentSize)) })
		hw.Go(func() { rows[iNacks] = Nacks(ctx, conn, cfg.HostID, l.Since, start, flags) })
		hw.Wait()
	})
	if filepath.IsAbs(cfg.DataDir) {
		rows[iBacklog] = Backlog(cfg.DataDir, start, l.StuckAfter, flags)
		rows[iQuarantine] = Quarantine(cfg.DataDir, flags)
		rows[iDisk] = Disk(cfg.DataDir)
	} else {
		why := "data_dir is not an absolute path (see config)"
		rows[iBacklog], rows[iQuarantine], rows[iDisk] = skip("backlog", why), skip("quarantine", why), skip("disk", why)
	}
	wg.Wait()
	return NewReport(cfg.HostID, start, rows)
}

// orDefault is s, or def when s is "".
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
