// Command peers runs elb next to the Go libraries that do the same jobs,
// side by side in one process, and prints the ratios as markdown tables:
//
//	go -C bench/peers run .            # 6 rounds of 100ms per contender and mode: under 2 minutes
//	go -C bench/peers run . -quick     # 1 round, a smoke test: seconds
//
// At each group size (-sizes: 3, 100, 1,000 and 10,000 backends, weights
// 1-10) it builds every contender once: elb's Group Pick+Done for six
// algorithms, elb's bare pickers, the bookkeeping floor (the root module's
// BenchmarkBaseline "floor") and the peers (smallnest/weighted,
// mroth/weightedrand, Kratos wrr and p2c, buraksezer/consistent); then
// bufbuild/httplb next to elb's httpgroup.Transport, both over an
// in-process RoundTripper. Each round runs every contender serially and
// in parallel (GOMAXPROCS goroutines, as b.RunParallel; see measure), each
// run cut into slices interleaved with the other contenders' so that the
// two sides of a ratio see the same moments of a busy machine. A ratio is
// elb / peer in the same round, under 1 when elb is faster; the tables
// show the median over the rounds of these paired ratios, and the median
// ns/op of each contender.
//
// The module is separate from elb's (its own go.mod, with a replace to
// this checkout), so the peers are never dependencies of the library, and
// its elb side uses elb's exported API alone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "peers:", err)
		}
		os.Exit(2)
	}
}

// options are the harness's flags.
type options struct {
	rounds    int
	sizes     []int
	benchtime string        // as given
	dur       time.Duration // -benchtime as a duration, or 0
	count     int64         // -benchtime as Nx, or 0
	slices    int
	quick     bool
	http      bool
	match     *regexp.Regexp // nil: every contender
	loadStart string         // the load average when the run started
	args      string         // the flags, as the report's command shows them
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVar(&o.rounds, "rounds", 6, "rounds; every contender runs once per round, serially and in parallel, and the tables show medians over rounds")
	sizes := fs.String("sizes", "3,100,1000,10000", "group sizes, comma-separated")
	fs.StringVar(&o.benchtime, "benchtime", "100ms", "each contender's run per round and mode (serial, parallel), as go test's -benchtime takes it: a duration or Nx (N ops)")
	fs.IntVar(&o.slices, "slices", 5, "each run is cut into this many slices, interleaved with the other contenders' within the round, so that a ratio's two sides see the same moments of the machine")
	fs.BoolVar(&o.quick, "quick", false, "a smoke run: -rounds 1 -benchtime 10ms, unless set")
	fs.BoolVar(&o.http, "http", true, "also compare the HTTP RoundTrippers (in process)")
	match := fs.String("match", "", "run only the contenders whose names match this regular expression, such as 'group|floor' (the ns/op table's names); the rows without theirs stay empty")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, a := range args {
		if strings.ContainsAny(a, " |*?()[]{}$\\'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		o.args += " " + a
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if o.quick {
		if !set["rounds"] {
			o.rounds = 1
		}
		if !set["benchtime"] {
			o.benchtime = "10ms"
		}
	}
	if o.rounds < 1 {
		return nil, fmt.Errorf("-rounds: %d, want at least 1", o.rounds)
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("-sizes: %q is not a group size (an integer, at least 2)", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.slices < 1 {
		return nil, fmt.Errorf("-slices: %d, want at least 1", o.slices)
	}
	if o.dur, o.count, err = parseBenchtime(o.benchtime); err != nil {
		return nil, err
	}
	if *match != "" {
		var re *regexp.Regexp
		re, err = regexp.Compile(*match)
		if err != nil {
			return nil, fmt.Errorf("-match: %w", err)
		}
		o.match = re
	}
	return o, nil
}

// parseBenchtime reads a -benchtime value as go test reads it: a
// duration or Nx.
func parseBenchtime(s string) (time.Duration, int64, error) {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 1 {
			return 0, 0, fmt.Errorf("-benchtime: %q, want a duration or Nx with N at least 1", s)
		}
		return 0, v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("-benchtime: %q, want a positive duration or Nx", s)
	}
	return d, 0, nil
}

// run is the command: flags in args, the tables to stdout, progress to
// stderr.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	o.loadStart = loadAverage()
	start := time.Now()
	res := newResults(o.rounds)
	for _, n := range o.sizes {
		var f failure
		t := time.Now()
		cs, err := contenders(n, &f)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "n=%d: contenders built in %s\n", n, time.Since(t).Round(time.Millisecond))
		cs = o.filter(cs)
		err = rounds(res, n, cs, &f, o, stderr)
		closeAll(cs)
		if err != nil {
			return err
		}
	}
	if o.http {
		var f failure
		cs, err := httpContenders(&f)
		if err != nil {
			return err
		}
		cs = o.filter(cs)
		err = rounds(res, httpSize, cs, &f, o, stderr)
		closeAll(cs)
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "done in %s\n", time.Since(start).Round(time.Second))
	return report(stdout, res, o)
}

// filter returns the contenders of cs that -match selects, and closes
// the others.
func (o *options) filter(cs []*contender) []*contender {
	if o.match == nil {
		return cs
	}
	var keep []*contender
	for _, c := range cs {
		switch {
		case o.match.MatchString(c.name):
			keep = append(keep, c)
		case c.close != nil:
			c.close()
		}
	}
	return keep
}

// httpSize is the size key of the HTTP contenders' results.
const httpSize = 0

func closeAll(cs []*contender) {
	for _, c := range cs {
		if c.close != nil {
			c.close()
		}
	}
}

// rounds runs every contender of one size, serially and in parallel,
// once per round. A round cuts each run into o.slices slices and runs
// every contender's slice before the next, starting each slice one
// contender further along: the two sides of a ratio share the same
// seconds of the machine, whatever else it is doing. Before the first
// round, a calibration run (which also warms the contender up) sets the
// ops per slice, and each round's speed the next round's.
func rounds(res *results, n int, cs []*contender, f *failure, o *options, stderr io.Writer) error {
	if len(cs) == 0 {
		return nil
	}
	type run struct {
		c        *contender
		parallel bool
		ops      int64 // per slice
	}
	var runs []*run
	for _, c := range cs {
		for _, parallel := range []bool{false, true} {
			runs = append(runs, &run{c: c, parallel: parallel})
		}
	}
	runtime.GC()
	t := time.Now()
	for _, r := range runs {
		var err error
		if o.count > 0 {
			r.ops = max(1, o.count/int64(o.slices))
			_, err = measure(r.c, r.parallel, r.ops)
		} else {
			r.ops, err = calibrate(r.c, r.parallel, o.dur/time.Duration(o.slices))
		}
		if err == nil {
			err = f.get()
		}
		if err != nil {
			return fmt.Errorf("%s (%s): %w", r.c.name, sizeLabel(n), err)
		}
	}
	fmt.Fprintf(stderr, "%s: calibrated in %s\n", sizeLabel(n), time.Since(t).Round(time.Millisecond))
	for round := range o.rounds {
		t := time.Now()
		sums := make([]sample, len(runs)) // totals: ns and allocs, over ops
		ops := make([]int64, len(runs))
		for slice := range o.slices {
			for k := range runs {
				i := (k + round*o.slices + slice) % len(runs)
				r := runs[i]
				s, err := measure(r.c, r.parallel, r.ops)
				if err == nil {
					err = f.get()
				}
				if err != nil {
					return fmt.Errorf("%s (%s): %w", r.c.name, sizeLabel(n), err)
				}
				sums[i].ns += s.ns
				sums[i].allocs += s.allocs
				ops[i] += r.ops
			}
		}
		for i, r := range runs {
			perOp := sums[i].ns / float64(ops[i])
			res.add(n, r.c.name, r.parallel, round, sample{ns: perOp, allocs: sums[i].allocs / float64(ops[i])})
			if o.count == 0 { // the next round's slices, from this round's speed
				r.ops = max(1, int64(float64((o.dur/time.Duration(o.slices)).Nanoseconds())/max(perOp, 1)))
			}
		}
		fmt.Fprintf(stderr, "%s: round %d/%d, %s\n", sizeLabel(n), round+1, o.rounds, time.Since(t).Round(time.Millisecond))
	}
	return nil
}

func sizeLabel(n int) string {
	if n == httpSize {
		return "http"
	}
	return fmt.Sprintf("n=%d", n)
}

// serialOp is c's op for the serial benchmark and the test.
func (c *contender) serialOp() func(uint64) int {
	if c.newOp != nil {
		return c.newOp()
	}
	return c.op
}

// parallelOp is c's op for one of RunParallel's goroutines.
func (c *contender) parallelOp() func(uint64) int {
	switch {
	case c.newOp != nil:
		return c.newOp()
	case c.opParallel != nil:
		return c.opParallel
	}
	return c.op
}
