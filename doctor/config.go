package doctor

import (
	"strings"

	"github.com/cis490/cis490/config"
)

// DefaultConfigPath is where deploy/ installs lab-host.toml; the config
// row's fix names it when doctor was run without --config.
const DefaultConfigPath = "/etc/cis490/lab-host.toml"

// Config is the "config" row: whether the lab host's configuration loaded
// and validated. path is the --config file ("" for none: defaults and the
// environment only); cfg is what was loaded (defaults, file, environment,
// flags) and err the error of config.DecodeFile, config.EnvOverride or
// Publisher.Validate, nil if it is valid. A bad configuration is red: the
// publisher refuses to start with it.
func Config(path string, cfg config.Publisher, err error) Row {
	name := path
	if name == "" {
		name = "no --config: defaults and environment"
	}
	if err != nil {
		var lines []string
		for l := range strings.Lines(err.Error()) {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		r := row("config", Red, name+": "+strings.Join(lines, "; "))
		r.Details["path"] = path
		r.Details["errors"] = lines
		if path == "" {
			r.Fix = "cis490 config check --config " + DefaultConfigPath + ", then run doctor with --config " + DefaultConfigPath
		} else {
			r.Fix = "cis490 config check --config " + shellQuote(path)
		}
		return r
	}
	r := row("config", Green, name+": valid, host "+cfg.HostID+", data_dir "+cfg.DataDir)
	r.Details["path"] = path
	r.Details["host_id"] = cfg.HostID
	r.Details["data_dir"] = cfg.DataDir
	r.Details["nats_url"] = redactURLs(cfg.NATS.URL)
	return r
}
