package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/go-elb/elb/balancer"
)

// results are every sample, by size, contender, mode and round.
type results struct {
	rounds int
	m      map[resultKey][]sample // indexed by round; ns 0 = not run
}

type resultKey struct {
	n        int
	name     string
	parallel bool
}

func newResults(rounds int) *results {
	return &results{rounds: rounds, m: map[resultKey][]sample{}}
}

func (r *results) add(n int, name string, parallel bool, round int, s sample) {
	k := resultKey{n, name, parallel}
	if r.m[k] == nil {
		r.m[k] = make([]sample, r.rounds)
	}
	r.m[k][round] = s
}

// per returns f of each round's samples of the contenders names (all of
// them run in that round), or nil if a name was not run at n.
func (r *results) per(n int, parallel bool, names []string, f func([]sample) float64) []float64 {
	rows := make([][]sample, len(names))
	for i, name := range names {
		rows[i] = r.m[resultKey{n, name, parallel}]
		if rows[i] == nil {
			return nil
		}
	}
	var out []float64
	for round := range r.rounds {
		ss := make([]sample, len(names))
		ok := true
		for i := range names {
			ss[i] = rows[i][round]
			ok = ok && ss[i].ns > 0
		}
		if ok {
			out = append(out, f(ss))
		}
	}
	return out
}

// ratios are the paired ratios at n: num's ns over the fastest of dens'
// in the same round.
func (r *results) ratios(n int, parallel bool, num string, dens []string) []float64 {
	return r.per(n, parallel, append([]string{num}, dens...), func(ss []sample) float64 {
		d := ss[1].ns
		for _, s := range ss[2:] {
			d = min(d, s.ns)
		}
		return ss[0].ns / d
	})
}

// scaling are the paired ratios at n of name's parallel throughput over
// its serial throughput: serial ns/op over parallel ns/op.
func (r *results) scaling(n int, name string) []float64 {
	s := r.per(n, false, []string{name}, func(ss []sample) float64 { return ss[0].ns })
	p := r.per(n, true, []string{name}, func(ss []sample) float64 { return ss[0].ns })
	if len(s) == 0 || len(s) != len(p) {
		return nil
	}
	out := make([]float64, len(s))
	for i := range s {
		out[i] = s[i] / p[i]
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// spread is the range of xs relative to its median: a cell's noise.
func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	return (slices.Max(xs) - slices.Min(xs)) / median(xs)
}

// weightedPeers are the peers of the weighted picks.
var weightedPeers = []string{nameSmallnest, nameWeightedrand, nameKratosWRR}

// ratioRow is a row of the ratio table: num over the fastest of den, each
// cell serial / parallel.
type ratioRow struct {
	label string
	num   string
	den   []string
}

// ratioRows are the ratio table's rows, job by job.
func ratioRows() []ratioRow {
	wrr, wr := balancer.NameWeightedRoundRobin, balancer.NameWeightedRandom
	rows := []ratioRow{
		{"group weighted_round_robin Pick+Done / fastest of smallnest/weighted, mroth/weightedrand, kratos wrr", groupName(wrr), weightedPeers},
		{"group weighted_round_robin Pick+Done / smallnest/weighted `SW.Next` (serial: alone; parallel: behind a sync.Mutex)", groupName(wrr), []string{nameSmallnest}},
		{"group weighted_round_robin Pick+Done / kratos wrr Select+done", groupName(wrr), []string{nameKratosWRR}},
		{"group weighted_round_robin Pick+Done / mroth/weightedrand `Pick`", groupName(wrr), []string{nameWeightedrand}},
		{"group weighted_random Pick+Done / mroth/weightedrand `Pick`", groupName(wr), []string{nameWeightedrand}},
		{"bare weighted_round_robin picker / fastest of the same three", pickerName(wrr), weightedPeers},
		{"bare weighted_random picker / mroth/weightedrand `Pick`", pickerName(wr), []string{nameWeightedrand}},
		{"group least_request Pick+Done / kratos p2c Select+done", groupName(balancer.NameLeastRequest), []string{nameKratosP2C}},
		{"group consistent_hash Pick+Done / buraksezer/consistent `LocateKey`", groupName(balancer.NameConsistentHash), []string{nameConsistent}},
		{"bare consistent_hash picker / buraksezer/consistent `LocateKey`", pickerName(balancer.NameConsistentHash), []string{nameConsistent}},
	}
	for _, alg := range algorithms[:5] {
		rows = append(rows, ratioRow{fmt.Sprintf("group %s Pick+Done / floor", alg), groupName(alg), []string{nameFloor}})
	}
	return rows
}

// scalingNames are the contenders of the scaling rows.
func scalingNames() []string {
	var names []string
	for _, alg := range algorithms[:5] {
		names = append(names, groupName(alg))
	}
	return append(names, nameFloor)
}

func formatRatio(xs []float64) string {
	if len(xs) == 0 {
		return ""
	}
	m := median(xs)
	if m < 0.095 {
		return strconv.FormatFloat(m, 'g', 2, 64) // 0.0013, not 0.00
	}
	return fmt.Sprintf("%.2f", m)
}

func formatNs(ns float64) string {
	switch {
	case math.IsNaN(ns) || ns == 0:
		return ""
	case ns < 100:
		return fmt.Sprintf("%.1f", ns)
	}
	return fmt.Sprintf("%.0f", ns)
}

// cpuModel is the machine's CPU, from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg
// where there is one: how busy the machine was with other work.
func loadAverage() string {
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

// report writes the tables. A row without a figure (its contenders left
// out by -match) is left out.
func report(w io.Writer, r *results, o *options) error {
	var b strings.Builder
	cpu := cpuModel()
	if cpu != "" {
		cpu = ", " + cpu
	}
	load := ""
	if o.loadStart != "" {
		load = fmt.Sprintf("; load average %s at the start, %s at the end", o.loadStart, loadAverage())
	}
	fmt.Fprintf(&b, "`go -C bench/peers run .%s` (%d rounds, -benchtime %s): %s %s/%s, GOMAXPROCS %d, %d CPUs%s%s.\n\n",
		o.args, o.rounds, o.benchtime, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), cpu, load)
	fmt.Fprintf(&b, "elb / peer, under 1 when elb is faster: the median over the rounds of the ratio in each round, serial / parallel.\n\n")

	// row writes a row of cells, unless none has a figure.
	row := func(label string, cells []string) {
		if !slices.ContainsFunc(cells, func(c string) bool { return strings.Trim(c, " /") != "" }) {
			return
		}
		b.WriteString("| " + label + " |")
		for _, c := range cells {
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	header := func(cols ...string) {
		b.WriteString("|")
		for _, c := range cols {
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n|" + strings.Repeat("---|", len(cols)) + "\n")
	}
	sizes := make([]string, len(o.sizes))
	for i, n := range o.sizes {
		sizes[i] = fmt.Sprintf("n=%d", n)
	}

	var spreads []float64
	header(append([]string{"job"}, sizes...)...)
	for _, rr := range ratioRows() {
		var cells []string
		for _, n := range o.sizes {
			s, p := r.ratios(n, false, rr.num, rr.den), r.ratios(n, true, rr.num, rr.den)
			spreads = append(spreads, spread(s), spread(p))
			cells = append(cells, formatRatio(s)+" / "+formatRatio(p))
		}
		row(rr.label, cells)
	}
	for _, name := range scalingNames() {
		var cells []string
		for _, n := range o.sizes {
			xs := r.scaling(n, name)
			spreads = append(spreads, spread(xs))
			cells = append(cells, formatRatio(xs))
		}
		row(name+": parallel throughput / serial throughput", cells)
	}
	spreads = slices.DeleteFunc(spreads, math.IsNaN)
	if len(spreads) > 0 {
		fmt.Fprintf(&b, "\nNoise: over the rounds, a cell's ratios span %.0f%% of their median (the median cell; the widest spans %.0f%%).\n",
			100*median(spreads), 100*slices.Max(spreads))
	}

	if o.http {
		writeHTTP(&b, r, o, row)
	}

	fmt.Fprintf(&b, "\nns/op, the median over the rounds, serial / parallel; allocs/op at n=%d, serial / parallel:\n\n", o.sizes[len(o.sizes)-1])
	header(append(append([]string{"contender"}, sizes...), "allocs/op")...)
	for _, name := range pickNames() {
		var cells []string
		for _, n := range o.sizes {
			cells = append(cells, formatNs(r.medianNs(n, name, false))+" / "+formatNs(r.medianNs(n, name, true)))
		}
		last := o.sizes[len(o.sizes)-1]
		row(name, append(cells, formatAllocs(r.maxAllocs(last, name, false))+" / "+formatAllocs(r.maxAllocs(last, name, true))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pickNames are the pick contenders, in the order contenders builds them.
func pickNames() []string {
	names := []string{nameFloor}
	for _, alg := range algorithms {
		names = append(names, groupName(alg))
	}
	for _, alg := range algorithms {
		names = append(names, pickerName(alg))
	}
	return append(names, nameSmallnest, nameWeightedrand, nameKratosWRR, nameKratosP2C, nameConsistent)
}

func (r *results) medianNs(n int, name string, parallel bool) float64 {
	return median(r.per(n, parallel, []string{name}, func(ss []sample) float64 { return ss[0].ns }))
}

func (r *results) maxAllocs(n int, name string, parallel bool) float64 {
	xs := r.per(n, parallel, []string{name}, func(ss []sample) float64 { return ss[0].allocs })
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}

func formatAllocs(a float64) string {
	if math.IsNaN(a) {
		return ""
	}
	return fmt.Sprintf("%.0f", math.Floor(a+0.05))
}

// writeHTTP writes the HTTP table.
func writeHTTP(b *strings.Builder, r *results, o *options, write func(label string, cells []string)) {
	n := httpSize
	fmt.Fprintf(b, "\nHTTP, in process: one RoundTrip of GET through a RoundTripper that answers without a network (a canned 200, one allocation), the body read and closed; three backends, round robin. Medians over the %d rounds:\n\n", o.rounds)
	b.WriteString("| HTTP RoundTrip in process | serial | parallel |\n|---|---|---|\n")
	row := func(label string, f func(parallel bool) string) { write(label, []string{f(false), f(true)}) }
	ratio := func(num, den string) func(bool) string {
		return func(p bool) string { return formatRatio(r.ratios(n, p, num, []string{den})) }
	}
	over := func(name string) func(bool) string {
		return func(p bool) string {
			d := r.per(n, p, []string{name, nameHTTPBare}, func(ss []sample) float64 { return ss[0].ns - ss[1].ns })
			a := r.per(n, p, []string{name, nameHTTPBare}, func(ss []sample) float64 { return ss[0].allocs - ss[1].allocs })
			if len(d) == 0 {
				return ""
			}
			return fmt.Sprintf("%+.0f ns/op, %+.0f allocs/op", median(d), math.Floor(median(a)+0.05))
		}
	}
	ns := func(name string) func(bool) string {
		return func(p bool) string {
			ns := formatNs(r.medianNs(n, name, p))
			if ns == "" {
				return ""
			}
			return fmt.Sprintf("%s ns/op, %s allocs/op", ns, formatAllocs(r.maxAllocs(n, name, p)))
		}
	}
	row("elb httpgroup.Transport / bufbuild/httplb", ratio(nameHTTPElb, nameHTTPHttplb))
	row("elb httpgroup.Transport / bare RoundTripper", ratio(nameHTTPElb, nameHTTPBare))
	row("bufbuild/httplb / bare RoundTripper", ratio(nameHTTPHttplb, nameHTTPBare))
	row("elb over bare (paired difference)", over(nameHTTPElb))
	row("httplb over bare (paired difference)", over(nameHTTPHttplb))
	row("bare RoundTripper", ns(nameHTTPBare))
	row("elb httpgroup.Transport", ns(nameHTTPElb))
	row("bufbuild/httplb", ns(nameHTTPHttplb))
}
