package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Machine describes the machine the bench ran on.
type Machine struct {
	CPU, Arch, Kernel, Go, NATSServer, NATSClient string
	Cores                                         int
	Memory                                        int64
}

// Describe reads the machine's description from /proc and the runtime.
func Describe() Machine {
	m := Machine{CPU: "unknown", Arch: runtime.GOARCH, Cores: runtime.NumCPU(), Go: runtime.Version(),
		NATSServer: "v" + server.VERSION, NATSClient: "v" + nats.Version, Kernel: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			if k = strings.TrimSpace(k); ok && (k == "model name" || k == "Model" || k == "Hardware") {
				m.CPU = strings.TrimSpace(v)
				if k == "model name" {
					break
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.Memory = kb << 10
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	return m
}

func utsString[T int8 | uint8](b []T) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// Short is the machine in one line.
func (m Machine) Short() string {
	return fmt.Sprintf("%s, %d cores, %s, %.0f GiB, %s, %s", m.CPU, m.Cores, m.Arch, float64(m.Memory)/(1<<30), m.Kernel, m.Go)
}

// Report is what Run measured.
type Report struct {
	Machine   Machine
	Runs      int
	Workloads []Workload
	Systems   []string
	Results   []Result
}

// Row is one system on one workload, the median of its runs.
type Row struct {
	Workload Workload
	System   string
	// OK counts the runs in which every episode arrived, of Runs.
	OK, Runs int
	// Failures counts the episodes that did not arrive, over all runs.
	Failures int
	// Err is the first error seen.
	Err string
	// MBps and EpisodesPerSec are medians over the runs that succeeded;
	// 0 if none did.
	MBps, EpisodesPerSec float64
	// PubRSS and RecvRSS are medians over all runs, in bytes.
	PubRSS, RecvRSS int64
	// PubCPU, RecvCPU and HubCPU are medians over all runs, in seconds.
	PubCPU, RecvCPU, HubCPU float64
	// VsStock and VsHTTP are cis490's speed over the other system's,
	// taken within each run where both succeeded, median; 0 if none.
	VsStock, VsHTTP float64
}

// Rows summarises the results: for each workload, one row per system.
func (rep *Report) Rows() []Row {
	var rows []Row
	for _, w := range rep.Workloads {
		for _, sys := range rep.Systems {
			row := Row{Workload: w, System: sys}
			var speed, eps []float64
			var pub, recv []int64
			var cpu [3][]float64
			for _, r := range rep.Results {
				if r.Workload != w || r.System != sys {
					continue
				}
				row.Runs++
				row.Failures += r.Failed
				if r.Err != "" && row.Err == "" {
					row.Err = firstLine(r.Err)
				}
				pub, recv = append(pub, r.PubRSS), append(recv, r.RecvRSS)
				cpu[0] = append(cpu[0], r.PubCPU.Seconds())
				cpu[1] = append(cpu[1], r.RecvCPU.Seconds())
				cpu[2] = append(cpu[2], r.HubCPU.Seconds())
				if r.OK() {
					row.OK++
					speed, eps = append(speed, r.MBps()), append(eps, r.EpisodesPerSec())
				}
			}
			if row.Runs == 0 {
				continue
			}
			row.MBps, row.EpisodesPerSec = median(speed), median(eps)
			row.PubRSS, row.RecvRSS = int64(median(toF(pub))), int64(median(toF(recv)))
			row.PubCPU, row.RecvCPU, row.HubCPU = median(cpu[0]), median(cpu[1]), median(cpu[2])
			if sys == Cis490 {
				row.VsStock, row.VsHTTP = rep.ratio(w, Stock), rep.ratio(w, HTTP)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// ratio is the median over runs of cis490's MB/s over other's, for the
// runs in which both succeeded.
func (rep *Report) ratio(w Workload, other string) float64 {
	byRun := map[int][2]float64{}
	for _, r := range rep.Results {
		if r.Workload != w || !r.OK() {
			continue
		}
		v := byRun[r.Run]
		switch r.System {
		case Cis490:
			v[0] = r.MBps()
		case other:
			v[1] = r.MBps()
		}
		byRun[r.Run] = v
	}
	var ratios []float64
	for _, v := range byRun {
		if v[0] > 0 && v[1] > 0 {
			ratios = append(ratios, v[0]/v[1])
		}
	}
	return median(ratios)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func toF(xs []int64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// systemLabel names a system in the table.
var systemLabel = map[string]string{
	Cis490: "cis490 end to end",
	Stock:  "stock Put + Get",
	HTTP:   "old HTTP design",
}

// cells is one row as table cells.
func (r Row) cells() []string {
	speed, eps := "failed", "-"
	if r.OK > 0 {
		speed, eps = fmt.Sprintf("%.0f", r.MBps), fmt.Sprintf("%.1f", r.EpisodesPerSec)
		if r.EpisodesPerSec < 1 {
			eps = fmt.Sprintf("%.3f", r.EpisodesPerSec)
		}
	}
	ok := fmt.Sprintf("%d/%d", r.OK, r.Runs)
	if r.Failures > 0 {
		ok += fmt.Sprintf(" (%d episodes lost)", r.Failures)
	}
	ratio := func(x float64) string {
		if r.System != Cis490 || x == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f×", x)
	}
	hub := fmt.Sprintf("%.1f", r.HubCPU)
	if r.System == HTTP {
		hub = "-" // no hub: the shipper talks to the receiver
	}
	cpu := fmt.Sprintf("%.1f / %.1f / %s", r.PubCPU, r.RecvCPU, hub)
	return []string{r.Workload.Label(), systemLabel[r.System], speed, eps, ok, mib(r.PubRSS), mib(r.RecvRSS), cpu, ratio(r.VsStock), ratio(r.VsHTTP)}
}

var header = []string{"workload", "system", "MB/s", "episodes/s", "runs ok", "sender peak RSS", "receiver peak RSS", "CPU s sender / receiver / hub", "cis490/stock", "cis490/HTTP"}

// WriteTable writes the summary as aligned text, then the targets.
func (rep *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\n%s\nmedian of %d run(s); MB/s of episode bytes (10^6 B/s)\n\n", rep.Machine.Short(), rep.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rep.Rows() {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, t := range rep.Targets() {
		fmt.Fprintln(w, t)
	}
	for _, r := range rep.Rows() {
		if r.Err != "" {
			fmt.Fprintf(w, "first error, %s on %s: %s\n", r.System, r.Workload.Label(), r.Err)
		}
	}
}

// Markdown is the machine and the table as markdown, for docs/benchmarks.md.
func (rep *Report) Markdown() string {
	var b bytes.Buffer
	m := rep.Machine
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n| CPU | %s, %d cores, %s |\n| memory | %.0f GiB |\n| kernel | %s |\n| Go | %s |\n| nats-server | %s, embedded in the bench process, default settings, file storage |\n| nats.go | %s |\n| transport | loopback |\n\n",
		m.CPU, m.Cores, m.Arch, float64(m.Memory)/(1<<30), m.Kernel, m.Go, m.NATSServer, m.NATSClient)
	fmt.Fprintf(&b, "Median of %d runs; MB/s and episodes/s of episode bytes (10^6 B/s); peak RSS is each process's VmHWM; CPU is user + system seconds of each process over the measurement (the hub's is the bench process's).\n\n", rep.Runs)
	fmt.Fprintln(&b, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
	for _, r := range rep.Rows() {
		c := r.cells()
		if r.System == Cis490 {
			c[1] = "**" + c[1] + "**"
		}
		fmt.Fprintln(&b, "| "+strings.Join(c, " | ")+" |")
	}
	fmt.Fprintln(&b)
	for _, t := range rep.Targets() {
		fmt.Fprintf(&b, "- %s\n", t)
	}
	return b.String()
}

// Doc markers: WriteDoc replaces what lies between them.
const (
	DocBegin = "<!-- bench:begin (written by cis490 bench --doc; do not edit by hand) -->"
	DocEnd   = "<!-- bench:end -->"
)

// WriteDoc replaces the text between DocBegin and DocEnd in the file at
// path with the report's markdown.
func (rep *Report) WriteDoc(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, DocBegin), strings.Index(s, DocEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q ... %q markers to write the results between", path, DocBegin, DocEnd)
	}
	s = s[:i+len(DocBegin)] + "\n" + rep.Markdown() + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// Targets checks the targets against the rows, a line each.
func (rep *Report) Targets() []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	rows := rep.Rows()
	find := func(w Workload, sys string) (Row, bool) {
		for _, r := range rows {
			if r.Workload == w && r.System == sys {
				return r, true
			}
		}
		return Row{}, false
	}
	var rss64, rssMax struct{ pub, recv int64 }
	var biggest int64
	for _, w := range rep.Workloads {
		c, ok := find(w, Cis490)
		if !ok {
			continue
		}
		if w.Size >= 64<<20 {
			if s, ok := find(w, Stock); ok && s.OK > 0 {
				out = append(out, fmt.Sprintf("%s: cis490 %.2f× the stock ceiling (target ≥ 0.80×): %s", w.Label(), c.VsStock, mark(c.VsStock >= 0.8)))
			} else if ok {
				out = append(out, fmt.Sprintf("%s: stock failed in every run; cis490 ok in %d/%d runs: %s", w.Label(), c.OK, c.Runs, mark(c.OK == c.Runs)))
			}
		}
		if w.Size >= 1<<30 {
			out = append(out, fmt.Sprintf("%s: cis490 delivered every episode in %d/%d runs (target 100%%): %s", w.Label(), c.OK, c.Runs, mark(c.OK == c.Runs)))
		}
		if _, ok := find(w, HTTP); ok {
			out = append(out, fmt.Sprintf("%s: cis490 %.2f× the old HTTP design (target ≥ 1.00×): %s", w.Label(), c.VsHTTP, mark(c.VsHTTP >= 1)))
		}
		if w.Size <= 1<<20 && w.Count >= 100 {
			out = append(out, fmt.Sprintf("%s: cis490 %.0f episodes/s (target ≥ 200): %s", w.Label(), c.EpisodesPerSec, mark(c.EpisodesPerSec >= 200)))
		}
		out = append(out, fmt.Sprintf("%s: cis490 publisher %s (target ≤ 48 MiB), receiver %s (target ≤ 64 MiB): %s",
			w.Label(), mib(c.PubRSS), mib(c.RecvRSS), mark(c.PubRSS <= 48<<20 && c.RecvRSS <= 64<<20)))
		if w.Size == 64<<20 {
			rss64.pub, rss64.recv = c.PubRSS, c.RecvRSS
		}
		if w.Size > 64<<20 && w.Size > biggest {
			biggest = w.Size
			rssMax.pub, rssMax.recv = c.PubRSS, c.RecvRSS
		}
	}
	if rss64.pub > 0 && biggest > 0 {
		p, r := float64(rssMax.pub)/float64(rss64.pub), float64(rssMax.recv)/float64(rss64.recv)
		out = append(out, fmt.Sprintf("peak RSS from 64 MiB to %s episodes: publisher %.2f×, receiver %.2f× (flat: within 1.15×): %s",
			strings.ReplaceAll(Workload{1, biggest}.Label(), "1 × ", ""), p, r, mark(p <= 1.15 && r <= 1.15)))
	}
	return out
}
