// Command benchtable turns the output of the root benchmarks into the
// README's Performance table: each Pick+Done figure next to the baseline
// floor measured in the same run, as a ratio, and the throughput of the
// parallel run over the serial one's (serial ns / parallel ns: 2 would be
// perfect scaling on 2 cores).
//
//	go test -run '^$' -bench 'Baseline|PickDone' -count 5 . | go run ./internal/benchtable
//
// With -count above 1 it takes the median of each benchmark's runs. Rows of
// benchmarks other than BenchmarkPickDone and BenchmarkBaseline (such as
// BenchmarkPickDoneServerLoad) keep their family's name after the
// algorithm's, so that one never stands in for another.
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	runs := map[string][]float64{} // "alg[ family]/n=N/mode" -> ns/op
	allocs := map[string]string{}
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		slash := strings.IndexByte(f[0], '/')
		if slash < 0 {
			continue
		}
		family := strings.TrimPrefix(f[0][:slash], "Benchmark")
		name := f[0][slash+1:]
		if dash := strings.LastIndexByte(name, '-'); dash >= 0 {
			name = name[:dash] // drop -GOMAXPROCS
		}
		if family != "PickDone" && family != "Baseline" {
			alg, rest, _ := strings.Cut(name, "/")
			name = alg + " " + family + "/" + rest
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		if _, ok := runs[name]; !ok {
			order = append(order, name)
		}
		runs[name] = append(runs[name], ns)
		for i := 4; i+1 < len(f); i++ {
			if f[i+1] == "allocs/op" {
				allocs[name] = f[i]
			}
		}
	}
	median := func(name string) (float64, bool) {
		xs := slices.Clone(runs[name])
		if len(xs) == 0 {
			return 0, false
		}
		slices.Sort(xs)
		return xs[len(xs)/2], true
	}
	fmt.Println("| benchmark | n | serial ns | x floor | parallel ns | x floor | parallel / serial throughput | allocs |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, name := range order {
		parts := strings.Split(name, "/") // alg, n=N, mode
		if len(parts) != 3 || parts[2] != "serial" {
			continue
		}
		alg, n := parts[0], parts[1]
		row := fmt.Sprintf("| %s | %s |", alg, strings.TrimPrefix(n, "n="))
		for _, mode := range []string{"serial", "parallel"} {
			v, ok := median(alg + "/" + n + "/" + mode)
			floor, fok := median("floor/" + n + "/" + mode)
			switch {
			case !ok:
				row += " - | - |"
			case !fok || alg == "floor" || alg == "counter":
				row += fmt.Sprintf(" %.1f | |", v)
			default:
				row += fmt.Sprintf(" %.1f | %.2f |", v, v/floor)
			}
		}
		ser, sok := median(alg + "/" + n + "/serial")
		par, pok := median(alg + "/" + n + "/parallel")
		if sok && pok && par > 0 {
			row += fmt.Sprintf(" %.2f |", ser/par)
		} else {
			row += " - |"
		}
		row += " " + allocs[alg+"/"+n+"/serial"] + " |"
		fmt.Println(row)
	}
}
