// Package browsertest tests Registry.Handler's dashboard in a real
// browser: headless Chromium, driven by chromedp. It is a module of its
// own so that chromedp never enters elb's go.mod.
package browsertest
