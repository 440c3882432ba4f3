package browsertest

import (
	"context"
	"errors"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium is Chromium's absence: neither "chromium" nor
// "chromium-browser" is on the PATH.
var ErrNoChromium = errors.New("chromium not found: apt-get install -y --no-install-recommends chromium")

// Chromium returns the path of the Chromium binary.
func Chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// NewBrowser starts headless Chromium with a fresh profile in
// userDataDir, a window of width × height, and no network of its own
// (no QUIC, sync, component updates or background requests), and returns
// a context of a tab in it; cancel closes the browser. opts add to the
// tab's context (chromedp.WithListener).
func NewBrowser(parent context.Context, userDataDir string, width, height int, opts ...chromedp.ContextOption) (ctx context.Context, cancel func(), err error) {
	path, err := Chromium()
	if err != nil {
		return nil, nil, err
	}
	actx, acancel := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(width, height),
		chromedp.Env("TZ=UTC"),
	)
	ctx, ccancel := chromedp.NewContext(actx, opts...)
	return ctx, func() { ccancel(); acancel() }, nil
}
