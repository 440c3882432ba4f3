package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
)

// TestQuickRuns is the smoke test: the lab runs every scenario in -quick
// mode and its output parses, as markdown and as JSON. It asserts nothing
// about timing.
func TestQuickRuns(t *testing.T) {
	js := filepath.Join(t.TempDir(), "lab.json")
	algos := []string{"round_robin", `{"least_request":{"choiceCount":2}}`}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"-quick", "-algos", strings.Join(algos, ","), "-json", js}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != len(scenarios) {
		t.Fatalf("%d scenarios in the JSON, want %d", len(rep.Scenarios), len(scenarios))
	}
	wantRows := 0
	for _, sc := range scenarios {
		wantRows += len(algos) * len(windows(sc, time.Second))
	}
	if len(rep.Rows) != wantRows {
		t.Fatalf("%d rows in the JSON, want %d", len(rep.Rows), wantRows)
	}
	for _, r := range rep.Rows {
		if r.Median.N == 0 || len(r.Median.Shares) != 10 || len(r.Repeats) != 1 {
			t.Errorf("row %s %s %s: n %d, %d shares, %d repeats", r.Scenario, r.Algo, r.Window, r.Median.N, len(r.Median.Shares), len(r.Repeats))
		}
		if (r.XEqual == 0) != (findScenario(r.Scenario).Baseline == "") {
			t.Errorf("row %s %s %s: x equal %v", r.Scenario, r.Algo, r.Window, r.XEqual)
		}
	}

	var again bytes.Buffer
	if err := run(ctx, []string{"-report", js}, &again, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again.String() != out.String() {
		t.Errorf("-report printed\n%s\nwant\n%s", again.String(), out.String())
	}

	rows := parseMarkdown(t, out.String())
	if len(rows) != wantRows {
		t.Fatalf("%d table rows in the markdown, want %d:\n%s", len(rows), wantRows, out.String())
	}
}

// parseMarkdown returns the data rows of the tables in s, checking that
// every row has the header's cells and every figure parses.
func parseMarkdown(t *testing.T, s string) [][]string {
	t.Helper()
	var header []string
	var rows [][]string
	summary := 0 // rows of the summary table
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cells[0] == "algorithm" || cells[0] == "scenario":
			header = cells
			continue
		case strings.HasPrefix(cells[0], "---"):
			continue
		}
		if len(cells) != len(header) {
			t.Fatalf("row %q has %d cells, the header %d", line, len(cells), len(header))
		}
		if header[0] == "scenario" {
			summary++
			continue
		}
		for i, c := range cells {
			switch header[i] {
			case "algorithm", "window":
			case "p99 min-max":
				lo, hi, ok := strings.Cut(c, "-")
				mustFloat(t, header[i], lo)
				mustFloat(t, header[i], hi)
				if !ok {
					t.Errorf("%s: %q is not a range", header[i], c)
				}
			case "x equal", "x wlc":
				if c != "-" {
					mustFloat(t, header[i], c)
				}
			case "shares %":
				f := strings.Fields(c)
				if len(f) != 10 {
					t.Errorf("shares %q: %d, want 10", c, len(f))
				}
				for _, x := range f {
					mustFloat(t, header[i], x)
				}
			default:
				mustFloat(t, header[i], c)
			}
		}
		rows = append(rows, cells)
	}
	if summary == 0 {
		t.Error("no summary table")
	}
	return rows
}

func mustFloat(t *testing.T, col, s string) {
	t.Helper()
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		t.Errorf("%s: %q is not a number", col, s)
	}
}

func TestSplitAlgos(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"round_robin", []string{"round_robin"}},
		{"round_robin, least_request", []string{"round_robin", "least_request"}},
		{`round_robin,{"peak_ewma":{"choiceCount":3}},weighted_least_connections`,
			[]string{"round_robin", `{"peak_ewma":{"choiceCount":3}}`, "weighted_least_connections"}},
		{`{"x":{"s":"a,}\"b"}},y`, []string{`{"x":{"s":"a,}\"b"}}`, "y"}},
	} {
		got, err := splitAlgos(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("splitAlgos(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "a,,b", "a,", `{"a":{}`, `{"a":"}`, `}`} {
		if got, err := splitAlgos(in); err == nil {
			t.Errorf("splitAlgos(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzSplitAlgos(f *testing.F) {
	for _, s := range []string{"round_robin,least_request", `a,{"b":{"c":[1,2]}}`, `{"x":"\",{"}`, "}{", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := splitAlgos(s)
		if err != nil {
			return
		}
		for _, a := range got {
			if a == "" {
				t.Fatalf("splitAlgos(%q) has an empty entry: %q", s, got)
			}
		}
		again, err := splitAlgos(strings.Join(got, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("splitAlgos(join(splitAlgos(%q))) = %q, %v; want %q", s, again, err, got)
		}
	})
}

func TestParseAlgosErrors(t *testing.T) {
	_, err := parseAlgos(`round_robin,{"least_request":{"choiceCount":1}}`)
	if !errors.Is(err, elb.ErrInvalidConfig) || !strings.Contains(err.Error(), "choiceCount") {
		t.Errorf("bad choiceCount: %v", err)
	}
	_, err = parseAlgos("no_such_algorithm")
	if !errors.Is(err, balancer.ErrUnknownAlgorithm) {
		t.Errorf("unknown algorithm: %v", err)
	}
}

func TestDefaultAlgos(t *testing.T) {
	got := defaultAlgos()
	for _, want := range []string{"round_robin", "least_request", "weighted_least_connections"} {
		if !slices.Contains(got, want) {
			t.Errorf("defaultAlgos() = %q: no %s", got, want)
		}
	}
	for _, not := range []string{"random", "weighted_random", "weighted_round_robin", "consistent_hash", "source_ip_hash"} {
		if slices.Contains(got, not) {
			t.Errorf("defaultAlgos() = %q: has %s, which is not load-aware", got, not)
		}
	}
}

func TestSelectScenarios(t *testing.T) {
	ids := func(s string) []string {
		scs, err := selectScenarios(s)
		if err != nil {
			t.Fatalf("selectScenarios(%q): %v", s, err)
		}
		var out []string
		for _, sc := range scs {
			out = append(out, sc.ID)
		}
		return out
	}
	if got, want := ids("S4"), []string{"S1-70", "S4", "S4-retry"}; !slices.Equal(got, want) {
		t.Errorf("S4: %q, want %q", got, want)
	}
	if got, want := ids("S5,S1-90"), []string{"S1-90", "S5-eq", "S5"}; !slices.Equal(got, want) {
		t.Errorf("S5,S1-90: %q, want %q", got, want)
	}
	if _, err := selectScenarios("S9"); err == nil {
		t.Error("S9: no error")
	}
}

func TestRates(t *testing.T) {
	c := &Cluster{Backends: make([]*Backend, 10), Slots: 2, Service: 50 * time.Millisecond}
	if got := c.Capacity(nil); got != 400 {
		t.Errorf("nominal capacity %v, want 400/s", got)
	}
	// S3: 7 backends at 40/s and 3 at 8/s: 304/s degraded, 80% of it 243.2/s.
	s3 := findScenario("S3")
	if got := s3.Load * c.Capacity(s3.rateFactors(10)); got < 243.19 || got > 243.21 {
		t.Errorf("S3 rate %v, want 243.2/s", got)
	}
	if eq := findScenario("S3-eq"); eq.Load*c.Capacity(eq.rateFactors(10)) != s3.Load*c.Capacity(s3.rateFactors(10)) {
		t.Error("S3-eq's rate is not S3's")
	}
}

func TestSummarize(t *testing.T) {
	var s []sample
	for i := range 1000 {
		s = append(s, sample{sched: time.Duration(i) * time.Millisecond, lat: time.Duration(i+1) * time.Millisecond, backend: int16(i % 2), status: 200})
	}
	s = append(s,
		sample{sched: 0, lat: time.Millisecond, backend: 0, status: 503},               // an error: not in the latencies
		sample{sched: 0, lat: 5 * time.Second, backend: -1, timedOut: true},            // a timeout: in them
		sample{sched: 2 * time.Second, lat: time.Millisecond, backend: 1, status: 200}, // outside the window
	)
	st := summarize(s, 0, time.Second, 2, []int{0}, nil)
	if st.N != 1002 || st.P50 != 501 || st.P99 != 991 || st.P999 != 1000 {
		t.Errorf("n %d p50 %v p99 %v p99.9 %v", st.N, st.P50, st.P99, st.P999)
	}
	if st.Pct503 != 100.0/1002 || st.TimeoutPct != 100.0/1002 || st.ErrPct != 200.0/1002 {
		t.Errorf("503 %v timeout %v err %v", st.Pct503, st.TimeoutPct, st.ErrPct)
	}
	if st.Shares[0] != 100*501.0/1001 || st.Affected != st.Shares[0] {
		t.Errorf("shares %v affected %v", st.Shares, st.Affected)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}

func TestMedianStats(t *testing.T) {
	runs := []Stats{
		{N: 10, P99: 3, Pct503: 1, OverP99: 9, Shares: []float64{50, 50}},
		{N: 30, P99: 1, Pct503: 2, OverP99: 7, Shares: []float64{60, 40}},
		{N: 20, P99: 2, Pct503: 3, OverP99: 8, Shares: []float64{40, 60}},
	}
	m := medianStats(runs)
	if m.N != 20 || m.P99 != 2 || m.Pct503 != 2 || m.OverP99 != 8 || !slices.Equal(m.Shares, []float64{50, 50}) {
		t.Errorf("medianStats = %+v", m)
	}
	if runs[0].P99 != 3 || runs[1].Shares[0] != 60 {
		t.Error("medianStats changed its input")
	}
}
