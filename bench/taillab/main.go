package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-elb/elb/balancer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "taillab:", err)
		}
		os.Exit(2)
	}
}

// options are the lab's flags.
type options struct {
	algos       []string
	scenarios   []*Scenario
	repeats     int
	backends    int
	slots       int
	service     time.Duration
	dur         time.Duration
	maxRequests int
	timeout     time.Duration
	seed        uint64
	quick       bool
	jsonPath    string
	reportPath  string
	reruns      int
	dist        string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("taillab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algos := fs.String("algos", strings.Join(defaultAlgos(), ","),
		"algorithms, comma-separated, each as group.Config.Algorithm takes it: a name or JSON, "+
			`such as 'round_robin,least_request,peak_ewma'; `+
			"default: round_robin and every registered load-aware algorithm")
	scen := fs.String("scenarios", "S1,S2,S3,S4,S5", "scenarios, comma-separated: S1-S5 or IDs such as S4-retry; baselines are added")
	o := &options{}
	fs.IntVar(&o.repeats, "repeats", 3, "runs of each scenario and algorithm; the table shows medians")
	fs.IntVar(&o.backends, "backends", 10, "loopback backends (S3 and S5 need at least 3)")
	fs.IntVar(&o.slots, "slots", 2, "requests each backend serves at once; the others queue")
	fs.DurationVar(&o.service, "service", 50*time.Millisecond, "service time of a request at a backend at slow factor 1 (the mean, with -dist exp)")
	fs.StringVar(&o.dist, "dist", "exp", "service times: exp (exponential, of mean -service: a backend's work varies) or fixed")
	fs.DurationVar(&o.dur, "duration", 0, "arrivals per run last this long (default 300 x -service, about 4,000 requests at 70% load; 30 x -service with -quick)")
	fs.IntVar(&o.maxRequests, "max-requests", 200_000, "at most this many requests per run")
	fs.DurationVar(&o.timeout, "timeout", 0, "per request; a request out of time counts as an error and at this latency (default 100 x -service)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the arrival times (each repeat and client adds to it)")
	fs.BoolVar(&o.quick, "quick", false, "a quick pass: -service 10ms -duration 300ms -repeats 1 -reruns 0, unless set")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.reportPath, "report", "", "print the tables of a previous run's -json file, and run nothing")
	fs.IntVar(&o.reruns, "reruns", 2, "times a run is run again when the machine distorted it (send lag p99 over a tenth of -service, or the backends' timers late by a fifth at p99)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["service"] {
			o.service = 10 * time.Millisecond
		}
		if !set["duration"] {
			o.dur = 30 * o.service
		}
		if !set["repeats"] {
			o.repeats = 1
		}
		if !set["reruns"] {
			o.reruns = 0
		}
	}
	if o.dur == 0 {
		o.dur = 300 * o.service
	}
	if o.timeout == 0 {
		o.timeout = 100 * o.service
	}
	var err error
	if o.algos, err = parseAlgos(*algos); err != nil {
		return nil, err
	}
	if o.scenarios, err = selectScenarios(*scen); err != nil {
		return nil, err
	}
	switch {
	case o.dist != "exp" && o.dist != "fixed":
		return nil, fmt.Errorf("-dist: %q must be exp or fixed", o.dist)
	case o.reruns < 0:
		return nil, fmt.Errorf("-reruns: %d must be at least 0", o.reruns)
	case o.repeats < 1:
		return nil, fmt.Errorf("-repeats: %d must be at least 1", o.repeats)
	case o.backends < 3:
		return nil, fmt.Errorf("-backends: %d must be at least 3 (S3 slows three)", o.backends)
	case o.slots < 1:
		return nil, fmt.Errorf("-slots: %d must be at least 1", o.slots)
	case o.service <= 0:
		return nil, fmt.Errorf("-service: %v must be positive", o.service)
	case o.dur <= 0:
		return nil, fmt.Errorf("-duration: %v must be positive", o.dur)
	case o.maxRequests < 1:
		return nil, fmt.Errorf("-max-requests: %d must be at least 1", o.maxRequests)
	case o.timeout <= 0:
		return nil, fmt.Errorf("-timeout: %v must be positive", o.timeout)
	}
	return o, nil
}

// selectScenarios reads -scenarios: "S4" selects S4 and S4-retry, and each
// selected scenario brings its baseline along.
func selectScenarios(s string) ([]*Scenario, error) {
	want := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		found := false
		for _, sc := range scenarios {
			if sc.ID == id || strings.HasPrefix(sc.ID, id+"-") {
				want[sc.ID], found = true, true
				if sc.Baseline != "" {
					want[sc.Baseline] = true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("-scenarios: %q is not a scenario (S1-S5, or one of the IDs in the table)", id)
		}
	}
	var out []*Scenario
	for _, sc := range scenarios {
		if want[sc.ID] {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Row is one line of the table: a scenario, an algorithm and a window of
// the run (all of it, or for phased scenarios also the bad phase and what
// follows it), with the medians over the repeats.
type Row struct {
	Scenario string  `json:"scenario"`
	Algo     string  `json:"algorithm"`
	Window   string  `json:"window"` // "all", "bad" or "after"
	Median   Stats   `json:"median"`
	Repeats  []Stats `json:"repeats"`
	P99Min   float64 `json:"p99_min_ms"`
	P99Max   float64 `json:"p99_max_ms"`
	// XEqual is the median over repeats of this p99 over the p99 of the
	// same algorithm on the scenario's equal-backend baseline (same rate,
	// same clients, same repeat); 0 for the baselines themselves.
	XEqual float64 `json:"x_equal_p99"`
	// XWLC is the same against weighted_least_connections in the same
	// scenario, window and repeat; 0 if it is not among the algorithms.
	XWLC float64 `json:"x_wlc_p99"`
	// Reruns counts the runs of this scenario and algorithm that were run
	// again because the machine distorted them (-reruns); Distorted the
	// repeats still distorted in this window after them.
	Reruns    int `json:"reruns"`
	Distorted int `json:"distorted_repeats"`
}

// Report is the whole lab's output, as -json writes it.
type Report struct {
	Backends  int           `json:"backends"`
	Slots     int           `json:"slots"`
	Service   string        `json:"service"`
	Dist      string        `json:"service_distribution"`
	Duration  string        `json:"duration"`
	Repeats   int           `json:"repeats"`
	CPUs      int           `json:"cpus"`
	Algos     []string      `json:"algorithms"`
	Scenarios []ScenarioRun `json:"scenarios"`
	Rows      []Row         `json:"rows"`
	Wall      float64       `json:"wall_seconds"`
	// LoadAvg is the machine's 1-minute load average (/proc/loadavg)
	// before and after the lab ran: other processes on the machine take
	// CPU from the client and the backends. "" where unknown.
	LoadAvg [2]string `json:"loadavg"`
}

// ScenarioRun describes a scenario as it ran.
type ScenarioRun struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Rate     float64 `json:"rate_per_s"`
	Capacity float64 `json:"nominal_capacity_per_s"`
	Clients  int     `json:"clients"`
	Baseline string  `json:"baseline,omitempty"`
}

type windowSpec struct {
	name     string
	from, to time.Duration
}

func windows(sc *Scenario, dur time.Duration) []windowSpec {
	all := []windowSpec{{"all", 0, dur}}
	if p := sc.Phase; p != nil {
		at := func(f float64) time.Duration { return time.Duration(f * float64(dur)) }
		all = append(all, windowSpec{"bad", at(p.From), at(p.To)}, windowSpec{"after", at(p.To), dur})
	}
	return all
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.reportPath != "" {
		b, err := os.ReadFile(o.reportPath)
		if err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("-report %s: %w", o.reportPath, err)
		}
		writeMarkdown(stdout, &rep)
		return nil
	}
	began, loadBefore := time.Now(), loadAvg()
	c, err := startCluster(o.backends, o.slots, o.service, o.dist == "exp")
	if err != nil {
		return err
	}
	defer c.Close()

	// stats[scenario][algo][window][repeat]
	type key struct{ sc, algo, window string }
	stats := map[key][]Stats{}
	rates := map[string]float64{}
	reruns := map[key]int{} // by scenario and algorithm
	for r := range o.repeats {
		// Within a repeat, an algorithm runs every scenario in turn, each
		// baseline just before the scenarios compared with it, so that a
		// ratio compares runs a few seconds apart on a machine whose other
		// load changes. The algorithms' order rotates each repeat, so that
		// none always runs first (on a cold machine) or last.
		order := slices.Clone(o.algos)
		if len(order) > 0 {
			k := r % len(order)
			order = append(order[k:], order[:k]...)
		}
		for _, algo := range order {
			for _, sc := range o.scenarios {
				fmt.Fprintf(stderr, "repeat %d/%d %-8s %s\n", r+1, o.repeats, sc.ID, algo)
				// A run the machine distorted (see distortion) runs again, up
				// to -reruns times, with the same arrivals; the least
				// distorted one counts.
				var kept []Stats
				for attempt := 0; ; attempt++ {
					res, err := runOnce(ctx, c, runSpec{sc: sc, algo: algo, dur: o.dur, maxRequests: o.maxRequests,
						timeout: o.timeout, seed: o.seed + uint64(r)*1000})
					if err != nil {
						return fmt.Errorf("%s %s: %w", sc.ID, algo, err)
					}
					runtime.GC() // between runs, not in the next one
					rates[sc.ID] = res.rate
					var ws []Stats
					for _, w := range windows(sc, o.dur) {
						ws = append(ws, summarize(res.samples, w.from, w.to, o.backends, sc.Affected, res.overshoot))
					}
					if kept == nil || ws[0].LagP99+ws[0].OverP99 < kept[0].LagP99+kept[0].OverP99 {
						kept = ws
					}
					d := distortion(ws[0], o.service)
					if d == "" || attempt == o.reruns {
						break
					}
					reruns[key{sc.ID, algo, ""}]++
					fmt.Fprintf(stderr, "  distorted (%s): once more\n", d)
				}
				for i, w := range windows(sc, o.dur) {
					k := key{sc.ID, algo, w.name}
					stats[k] = append(stats[k], kept[i])
				}
			}
		}
	}

	rep := &Report{Backends: o.backends, Slots: o.slots, Service: o.service.String(), Dist: o.dist, Duration: o.dur.String(),
		Repeats: o.repeats, CPUs: runtime.NumCPU(), Algos: o.algos}
	wlc := ""
	for _, a := range o.algos {
		if name, _, err := balancer.ParseConfig(a); err == nil && name == balancer.NameWeightedLeastConnections && a == name {
			wlc = a
		}
	}
	ratio := func(num, den []Stats) float64 {
		var xs []float64
		for i := range min(len(num), len(den)) {
			if den[i].P99 > 0 {
				xs = append(xs, num[i].P99/den[i].P99)
			}
		}
		return median(xs)
	}
	for _, sc := range o.scenarios {
		rep.Scenarios = append(rep.Scenarios, ScenarioRun{ID: sc.ID, Title: sc.Title, Rate: rates[sc.ID],
			Capacity: c.Capacity(nil), Clients: sc.Clients, Baseline: sc.Baseline})
		for _, algo := range o.algos {
			for _, w := range windows(sc, o.dur) {
				runs := stats[key{sc.ID, algo, w.name}]
				row := Row{Scenario: sc.ID, Algo: algo, Window: w.name, Median: medianStats(runs), Repeats: runs,
					Reruns: reruns[key{sc.ID, algo, ""}]}
				for _, s := range runs {
					if distortion(s, o.service) != "" {
						row.Distorted++
					}
				}
				row.P99Min, row.P99Max = runs[0].P99, runs[0].P99
				for _, s := range runs {
					row.P99Min, row.P99Max = min(row.P99Min, s.P99), max(row.P99Max, s.P99)
				}
				if sc.Baseline != "" {
					row.XEqual = ratio(runs, stats[key{sc.Baseline, algo, "all"}])
				}
				if wlc != "" {
					row.XWLC = ratio(runs, stats[key{sc.ID, wlc, w.name}])
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	rep.Wall, rep.LoadAvg = time.Since(began).Seconds(), [2]string{loadBefore, loadAvg()}
	writeMarkdown(stdout, rep)
	if o.jsonPath != "" {
		js, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeMarkdown prints the report as one markdown table per scenario.
func writeMarkdown(w io.Writer, rep *Report) {
	service, _ := time.ParseDuration(rep.Service)
	fmt.Fprintf(w, "# taillab: %d backends x %d slots, service %s (%s), runs of %s, medians of %d, %d CPUs, load average %s before, %s after\n\n",
		rep.Backends, rep.Slots, rep.Service, rep.Dist, rep.Duration, rep.Repeats, rep.CPUs, rep.LoadAvg[0], rep.LoadAvg[1])
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(w, "## %s: %s\n\n", sc.ID, sc.Title)
		fmt.Fprintf(w, "%.0f requests/s offered (nominal capacity %.0f/s), %d client(s)", sc.Rate, sc.Capacity, sc.Clients)
		if sc.Baseline != "" {
			fmt.Fprintf(w, ", x equal against %s", sc.Baseline)
		}
		fmt.Fprint(w, "\n\n")
		fmt.Fprintln(w, "| algorithm | window | n | p50 ms | p90 ms | p99 ms | p99.9 ms | p99 min-max | x equal | x wlc | err % | 503 % | timeout % | affected % | shares % | lag p99 ms | lag max ms | svc over mean ms | svc over p99 ms |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range rep.Rows {
			if r.Scenario != sc.ID {
				continue
			}
			m := r.Median
			shares := make([]string, len(m.Shares))
			for i, s := range m.Shares {
				shares[i] = fmt.Sprintf("%.0f", s)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f-%.1f | %s | %s | %.2f | %.2f | %.2f | %.1f | %s | %.2f | %.2f | %.2f | %.2f |\n",
				r.Algo, r.Window, m.N, m.P50, m.P90, m.P99, m.P999, r.P99Min, r.P99Max, fmtRatio(r.XEqual), fmtRatio(r.XWLC),
				m.ErrPct, m.Pct503, m.TimeoutPct, m.Affected, strings.Join(shares, " "), m.LagP99, m.LagMax, m.OverMean, m.OverP99)
		}
		fmt.Fprintln(w)
		for _, r := range rep.Rows {
			if r.Scenario == sc.ID && r.Window == "all" && (r.Distorted > 0 || r.Reruns > 0) {
				fmt.Fprintf(w, "distorted: %s: %d of %d repeats after %d reruns", r.Algo, r.Distorted, len(r.Repeats), r.Reruns)
				if msg := distortion(r.Median, service); msg != "" {
					fmt.Fprintf(w, " (median %s)", msg)
				}
				fmt.Fprintln(w)
			}
		}
		fmt.Fprintln(w)
	}
	writeSummary(w, rep)
	fmt.Fprintf(w, "\nwall time %.0f s\n", rep.Wall)
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

// distortion says what in s suggests that the machine, not the algorithm,
// shaped the tail: a load generator sending late (lag p99 over a tenth of
// the service time) or backends' timers overshooting (service overshoot
// p99 over a fifth of it), as when other processes take the CPUs. "" if
// neither.
func distortion(s Stats, service time.Duration) string {
	var out []string
	if svc := ms(service); s.LagP99 > svc/10 {
		out = append(out, fmt.Sprintf("send lag p99 %.1f ms", s.LagP99))
	}
	if svc := ms(service); s.OverP99 > svc/5 {
		out = append(out, fmt.Sprintf("service overshoot p99 %.1f ms", s.OverP99))
	}
	return strings.Join(out, ", ")
}

// loadAvg returns the 1-minute load average, or "" where unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// writeSummary prints one table with a column per algorithm: each
// scenario's p99 (for phased ones, the bad phase's) and its ratio to the
// equal-backend baseline; the share the degraded backends win back after
// the bad phase; the 503 rates of S4; the repeats the machine distorted.
func writeSummary(w io.Writer, rep *Report) {
	find := func(sc, algo, window string) *Row {
		for i := range rep.Rows {
			if r := &rep.Rows[i]; r.Scenario == sc && r.Algo == algo && r.Window == window {
				return r
			}
		}
		return nil
	}
	line := func(label string, cell func(r *Row) string, sc, window string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, a := range rep.Algos {
			c := "-"
			if r := find(sc, a, window); r != nil {
				c = cell(r)
			}
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "## Summary: p99 ms (x the same algorithm's p99 on equal backends at the same rate), medians of %d\n\n", rep.Repeats)
	fmt.Fprintf(w, "| scenario | %s |\n|---|%s\n", strings.Join(rep.Algos, " | "), strings.Repeat("---|", len(rep.Algos)))
	p99 := func(r *Row) string {
		if r.XEqual == 0 {
			return fmt.Sprintf("%.0f", r.Median.P99)
		}
		return fmt.Sprintf("%.0f (%.2fx)", r.Median.P99, r.XEqual)
	}
	for _, sc := range rep.Scenarios {
		s := findScenario(sc.ID)
		if s == nil { // a report from another version of the lab
			s = &Scenario{}
		}
		window := "all"
		if s.Phase != nil {
			window = "bad"
		}
		line(fmt.Sprintf("%s p99 (%s)", sc.ID, window), p99, sc.ID, window)
		if s.Phase != nil {
			line(fmt.Sprintf("%s after: share of the %d slowed (%.0f%% fair)", sc.ID, len(s.Affected), 100*float64(len(s.Affected))/float64(rep.Backends)),
				func(r *Row) string { return fmt.Sprintf("%.1f%%", r.Median.Affected) }, sc.ID, "after")
		}
		if len(s.Fail) > 0 {
			line(sc.ID+" 503 %", func(r *Row) string { return fmt.Sprintf("%.2f%%", r.Median.Pct503) }, sc.ID, "all")
		}
	}
	fmt.Fprintf(w, "| repeats distorted (send lag p99 > %s/10 or timers late by %s/5 at p99) |", rep.Service, rep.Service)
	for _, a := range rep.Algos {
		d, n := 0, 0
		for _, r := range rep.Rows {
			if r.Algo == a && r.Window == "all" {
				d, n = d+r.Distorted, n+len(r.Repeats)
			}
		}
		fmt.Fprintf(w, " %d of %d |", d, n)
	}
	fmt.Fprintln(w)
}
