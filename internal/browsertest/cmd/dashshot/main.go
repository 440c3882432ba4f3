// Command dashshot takes the README's screenshot of the dashboard: it runs
// the demo (go run ./examples/demo), opens the dashboard URL the demo
// prints in headless Chromium, waits for the moment the demo kills web-3
// and outlier detection ejects it, and saves a PNG of the whole page.
// Run it from internal/browsertest:
//
//	go run ./cmd/dashshot               # writes ../../docs/dashboard.png
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/go-elb/elb/internal/browsertest"
)

func main() {
	repo := flag.String("repo", "../..", "the elb repository's root")
	out := flag.String("o", "../../docs/dashboard.png", "the PNG to write")
	width := flag.Int("width", 1280, "the browser window's width, in CSS pixels")
	scale := flag.Float64("scale", 1, "device pixels per CSS pixel")
	verbose := flag.Bool("v", false, "print the demo's output")
	flag.Parse()
	if err := run(*repo, *out, *width, *scale, *verbose); err != nil {
		log.Fatal(err)
	}
}

func run(repo, out string, width int, scale float64, verbose bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "dashshot")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tab, closeBrowser, err := browsertest.NewBrowser(ctx, dir, width, 800)
	if err != nil {
		return err
	}
	defer closeBrowser()
	// The browser starts first, so that the page opens as the demo starts.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(int64(width), 800, chromedp.EmulateScale(scale))); err != nil {
		return err
	}
	demo := exec.CommandContext(ctx, "go", "run", "./examples/demo")
	demo.Dir = repo
	demo.Stderr = os.Stderr
	stdout, err := demo.StdoutPipe()
	if err != nil {
		return err
	}
	if err := demo.Start(); err != nil {
		return err
	}
	lines := bufio.NewScanner(stdout)
	// next returns the demo's next line that contains s.
	next := func(s string) (string, error) {
		for lines.Scan() {
			if verbose {
				fmt.Fprintln(os.Stderr, lines.Text())
			}
			if strings.Contains(lines.Text(), s) {
				return lines.Text(), nil
			}
		}
		return "", fmt.Errorf("the demo ended before printing %q", s)
	}
	line, err := next("dashboard: open ")
	if err != nil {
		return err
	}
	url := strings.Fields(strings.SplitN(line, "dashboard: open ", 2)[1])[0]

	if err := chromedp.Do(tab, chromedp.Navigate(url+"web")); err != nil {
		return err
	}
	// The page refreshes itself every second from now on, and the
	// observed shares fill their window. The moment to show: web-3 killed
	// and ejected for a second, its countdown under a second.
	if _, err := next("killing web-3"); err != nil {
		return err
	}
	countdown := func(re string, timeout time.Duration) error {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`(function () {
  var r = document.querySelector('tr.backend[data-backend="web-3"] .countdown');
  return !!r && /`+re+`/.test(r.textContent);
})()`, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
		return err
	}
	if err := countdown(`back in `, 15*time.Second); err != nil {
		return fmt.Errorf("web-3 never showed ejected: %w", err)
	}
	_ = countdown(`back in 0\.`, 2500*time.Millisecond) // better, if a refresh shows it in time
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes)\n", out, len(png))
	closeBrowser()
	if _, err := io.Copy(io.Discard, stdout); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return demo.Wait()
}
