package bench_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cis490/cis490/bench"
)

// buildBinaries builds cis490 and httpold into a temp dir.
func buildBinaries(t *testing.T) (cis490, httpold string) {
	t.Helper()
	dir := t.TempDir()
	cis490, httpold = filepath.Join(dir, "cis490"), filepath.Join(dir, "httpold")
	for bin, pkg := range map[string]string{cis490: "../cmd/cis490", httpold: "./cmd/httpold"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return cis490, httpold
}

// TestBenchSmoke runs the whole bench, every system, on tiny workloads,
// once, so that the bench cannot rot: every episode must arrive, every
// process must report a peak RSS, and the table and the doc must be written.
func TestBenchSmoke(t *testing.T) {
	cis490, httpold := buildBinaries(t)
	var out bytes.Buffer
	ws := []bench.Workload{{Count: 12, Size: 16 << 10}, {Count: 2, Size: 1 << 20}}
	rep, err := bench.Run(t.Context(), bench.Options{Binary: cis490, HTTPOld: httpold, Workloads: ws, Runs: 1, Dir: t.TempDir(), Out: &out})
	if err != nil {
		t.Fatalf("bench.Run = %v\n%s", err, out.String())
	}
	if got, want := len(rep.Results), len(ws)*3; got != want {
		t.Fatalf("bench.Run gave %d results, want %d\n%s", got, want, out.String())
	}
	if got := strings.Count(out.String(), "(warm-up, not counted)"); got != len(ws) {
		t.Errorf("bench.Run printed %d warm-up runs, want one per run of each workload, %d\n%s", got, len(ws), out.String())
	}
	for _, r := range rep.Results {
		if !r.OK() {
			t.Errorf("%s on %s: %d/%d arrived: %s", r.System, r.Workload, r.Done, r.Workload.Count, r.Err)
		}
		if r.PubRSS < 1<<20 || r.RecvRSS < 1<<20 || r.Elapsed <= 0 {
			t.Errorf("%s on %s: sender RSS %d, receiver RSS %d, elapsed %v: want each measured", r.System, r.Workload, r.PubRSS, r.RecvRSS, r.Elapsed)
		}
		if r.PubCPU <= 0 || r.RecvCPU <= 0 || (r.System != bench.HTTP && r.HubCPU <= 0) {
			t.Errorf("%s on %s: CPU sender %v, receiver %v, hub %v: want each measured", r.System, r.Workload, r.PubCPU, r.RecvCPU, r.HubCPU)
		}
	}
	for _, row := range rep.Rows() {
		if row.System == bench.Cis490 && (row.VsStock <= 0 || row.VsHTTP <= 0) {
			t.Errorf("cis490 row %s: ratios %v and %v, want both measured", row.Workload, row.VsStock, row.VsHTTP)
		}
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	for _, want := range []string{"cis490 end to end", "stock Put + Get", "old HTTP design", "12 × 16 KiB", "2 × 1 MiB", "cis490/stock"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	os.WriteFile(doc, []byte("# B\n\nbefore\n"+bench.DocBegin+"\nold table\n"+bench.DocEnd+"\nafter\n"), 0o644)
	if err := rep.WriteDoc(doc); err != nil {
		t.Fatalf("WriteDoc = %v", err)
	}
	b, _ := os.ReadFile(doc)
	if s := string(b); strings.Contains(s, "old table") || !strings.Contains(s, "| 2 × 1 MiB | **cis490 end to end** |") ||
		!strings.Contains(s, "before") || !strings.Contains(s, "after") || !strings.Contains(s, rep.Machine.CPU) {
		t.Errorf("WriteDoc wrote:\n%s", s)
	}
}

// TestWriteDocNeedsMarkers: a doc without the markers is left alone, with
// an error naming them.
func TestWriteDocNeedsMarkers(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	os.WriteFile(doc, []byte("# no markers\n"), 0o644)
	err := (&bench.Report{}).WriteDoc(doc)
	if err == nil || !strings.Contains(err.Error(), "bench:begin") {
		t.Fatalf("WriteDoc = %v, want an error naming the markers", err)
	}
	if b, _ := os.ReadFile(doc); string(b) != "# no markers\n" {
		t.Errorf("WriteDoc changed the file: %q", b)
	}
}

// TestOldDesignNotShipped: the old HTTP design is measured, never shipped.
func TestOldDesignNotShipped(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/cis490").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/cis490/cis490/bench\n") {
		t.Fatalf("go list -deps ../cmd/cis490 lacks the bench package: is the command wired?\n%s", out)
	}
	if strings.Contains(string(out), "/httpold") {
		t.Errorf("cmd/cis490 depends on the old HTTP design (bench/httpold): it must stay out of the binary")
	}
}

func TestParseWorkloads(t *testing.T) {
	got, err := bench.ParseWorkloads("1000x100KiB, 2x1GiB")
	if err != nil || len(got) != 2 || got[0] != (bench.Workload{Count: 1000, Size: 100 << 10}) || got[1] != (bench.Workload{Count: 2, Size: 1 << 30}) {
		t.Fatalf("ParseWorkloads = %v, %v", got, err)
	}
	if s := got[0].String(); s != "1000x100KiB" {
		t.Errorf("String() = %q, want 1000x100KiB", s)
	}
	for _, tc := range []struct{ in, want string }{
		{"20", "want COUNTxSIZE"},
		{"0x1MiB", "count \"0\""},
		{"ax1MiB", "count \"a\""},
		{"2x1XB", "unknown unit"},
		{"2x100", "at least 1KiB"},
		{"", "want COUNTxSIZE"},
	} {
		if _, err := bench.ParseWorkloads(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWorkloads(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}
