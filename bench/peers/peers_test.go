package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestEveryContenderPicksEveryBackend checks that every contender does its
// job at n=3 (weights 1, 2 and 3): 3,000 picks, each a valid index, and
// every backend picked. The HTTP contenders are checked by the backend
// their request went to.
func TestEveryContenderPicksEveryBackend(t *testing.T) {
	const n, picks = 3, 3000
	var f failure
	cs, err := contenders(n, &f)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(cs)
	hs, err := httpContenders(&f)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(hs)
	for _, c := range append(cs, hs...) {
		if c.noIndex {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			pick := c.index
			if pick == nil {
				pick = c.serialOp()
			}
			var counts [n]int
			for seq := range uint64(picks) {
				i := pick(seq + 1)
				if err := f.get(); err != nil {
					t.Fatal(err)
				}
				if i < 0 || i >= n {
					t.Fatalf("pick %d: index %d, want 0-%d", seq+1, i, n-1)
				}
				counts[i]++
			}
			for i, k := range counts {
				if k == 0 {
					t.Errorf("backend %d never picked in %d picks: %v", i, picks, counts)
				}
			}
		})
	}
}

// TestQuick runs the -quick path at n=3 and checks the tables: every row
// there with a figure in each cell. It asserts nothing about the figures.
func TestQuick(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-quick", "-sizes", "3"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	var want []string
	for _, r := range ratioRows() {
		want = append(want, "| "+r.label+" | ")
	}
	for _, name := range scalingNames() {
		want = append(want, fmt.Sprintf("| %s: parallel throughput / serial throughput | ", name))
	}
	for _, name := range pickNames() {
		want = append(want, "| "+name+" | ")
	}
	want = append(want, "| elb httpgroup.Transport / bufbuild/httplb | ", "| elb over bare (paired difference) | +")
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("output has no row %q:\n%s", w, s)
		}
	}
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, "|  /") || strings.Contains(line, "| |") || strings.Contains(line, "NaN") {
			t.Errorf("a cell without a figure: %q", line)
		}
	}
}

// TestFlags checks the flags' errors name the flag.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rounds", "0"}, {"-sizes", "3,x"}, {"-sizes", "1"}, {"-benchtime", "soon"}, {"-benchtime", "0x"}, {"-match", "("}, {"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		if err == nil {
			t.Errorf("%q: no error", args)
			continue
		}
		if name := strings.TrimPrefix(args[0], "-"); args[0] != "extra" && !strings.Contains(err.Error(), "-"+name) {
			t.Errorf("%q: error %q does not name -%s", args, err, name)
		}
	}
}
