package healthcheck_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/healthcheck"
)

// run feeds a machine a script of outcomes ('+' pass, '-' fail) and returns
// the state after each, as initials.
func run(m *healthcheck.Machine, script string) string {
	var b strings.Builder
	for _, c := range script {
		m.Observe(c == '+')
		b.WriteByte(m.State().String()[0]) // i, h, u
	}
	return b.String()
}

func TestMachineTransitions(t *testing.T) {
	for _, tc := range []struct {
		healthy, unhealthy int
		script, want       string
	}{
		{3, 3, "+++", "iih"},
		{3, 3, "++-+++", "iiiiih"},     // a failure resets the success run
		{3, 3, "---+++", "iiuuuh"},     // a new backend that fails is Unhealthy
		{3, 3, "+++---", "iihhhu"},     //
		{3, 3, "+++--+--", "iihhhhhh"}, // a success resets the failure run
		{3, 3, "+++---++-+++", "iihhhuuuuuuh"},
		{1, 1, "+-+-", "huhu"},
		{2, 10, "++---------", "ihhhhhhhhhh"},
		{2, 10, "++----------", "ihhhhhhhhhhu"},
		{10, 1, "+++++++++-", "iiiiiiiiiu"},
	} {
		m := healthcheck.NewMachine(health.Config{HealthyThreshold: tc.healthy, UnhealthyThreshold: tc.unhealthy})
		if got := run(&m, tc.script); got != tc.want {
			t.Errorf("thresholds %d/%d, %s: states %s, want %s", tc.healthy, tc.unhealthy, tc.script, got, tc.want)
		}
	}
}

func TestMachineDefaultsAndCounts(t *testing.T) {
	m := healthcheck.NewMachine(health.Config{})
	if got := run(&m, "++"); got != "ii" {
		t.Fatalf("default healthy threshold is 3: got %s", got)
	}
	if m.Successes() != 2 || m.Failures() != 0 {
		t.Fatalf("counts %d/%d, want 2/0", m.Successes(), m.Failures())
	}
	changed := m.Observe(true)
	if !changed || m.State() != health.Healthy {
		t.Fatalf("third success: changed %v, state %v", changed, m.State())
	}
	if m.Observe(true) {
		t.Fatal("a success while healthy changes nothing")
	}
	run(&m, "--")
	if m.Successes() != 0 || m.Failures() != 2 {
		t.Fatalf("counts %d/%d, want 0/2", m.Successes(), m.Failures())
	}
	if !m.Fail() || m.State() != health.Unhealthy {
		t.Fatal("Fail makes a healthy machine unhealthy")
	}
	if got := run(&m, "+++"); got != "uuh" {
		t.Fatalf("after Fail: %s, want uuh", got)
	}
}

func TestConfigNormalized(t *testing.T) {
	c, err := health.Config{}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	want := health.Config{Interval: 5 * time.Second, InitialInterval: time.Second, Timeout: 3 * time.Second, HealthyThreshold: 3,
		UnhealthyThreshold: 3, Jitter: 500 * time.Millisecond, Concurrency: health.DefaultConcurrency}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	c, _ = health.Config{Interval: 2 * time.Second}.Normalized()
	if c.Timeout != 2*time.Second {
		t.Fatalf("timeout defaults to at most the interval: %v", c.Timeout)
	}
	for _, tc := range []struct {
		cfg   health.Config
		field string
	}{
		{health.Config{Interval: 999 * time.Millisecond}, "Interval"},
		{health.Config{Interval: 51 * time.Second}, "Interval"},
		{health.Config{Interval: -time.Second}, "Interval"},
		{health.Config{Timeout: 500 * time.Millisecond}, "Timeout"},
		{health.Config{Interval: 10 * time.Second, Timeout: 11 * time.Second}, "Timeout"},
		{health.Config{InitialInterval: 99 * time.Millisecond}, "InitialInterval"},
		{health.Config{InitialInterval: -time.Second}, "InitialInterval"},
		{health.Config{Interval: 2 * time.Second, InitialInterval: 3 * time.Second}, "InitialInterval"},
		{health.Config{HealthyThreshold: 11}, "HealthyThreshold"},
		{health.Config{HealthyThreshold: -1}, "HealthyThreshold"},
		{health.Config{UnhealthyThreshold: 11}, "UnhealthyThreshold"},
		{health.Config{Jitter: 6 * time.Second}, "Jitter"},
		{health.Config{Jitter: -2}, "Jitter"},
		{health.Config{Concurrency: -1}, "Concurrency"},
		{health.Config{Concurrency: 5000}, "Concurrency"},
	} {
		_, err := tc.cfg.Normalized()
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, elb.ErrInvalidConfig) {
			t.Errorf("%+v: error %v, want a ConfigError for %s", tc.cfg, err, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v does not name %s", err, tc.field)
		}
	}
	if c, err := (health.Config{Jitter: health.NoJitter}).Normalized(); err != nil || c.Jitter != health.NoJitter {
		t.Fatalf("NoJitter: %v %v", c.Jitter, err)
	}
}

func TestOutlierConfig(t *testing.T) {
	o, err := health.OutlierConfig{}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	if o != (health.OutlierConfig{ConsecutiveFailures: 5, BaseEjectionTime: 30 * time.Second,
		MaxEjectionTime: 300 * time.Second, MaxEjectionPercent: 10}) {
		t.Fatalf("defaults %+v", o)
	}
	for n, want := range map[int]time.Duration{0: 30 * time.Second, 1: 30 * time.Second, 2: time.Minute,
		9: 270 * time.Second, 10: 300 * time.Second, 11: 300 * time.Second, 1 << 40: 300 * time.Second} {
		if got := o.EjectionTime(n); got != want {
			t.Errorf("EjectionTime(%d) = %v, want %v", n, got, want)
		}
	}
	for n, want := range map[int]int{0: 1, 1: 1, 9: 1, 10: 1, 19: 1, 20: 2, 1000: 100} {
		if got := o.MaxEjected(n); got != want {
			t.Errorf("MaxEjected(%d) = %d, want %d", n, got, want)
		}
	}
	for _, tc := range []struct {
		n    int
		d    time.Duration
		want int
	}{{3, 0, 3}, {3, 29 * time.Second, 3}, {3, 30 * time.Second, 2}, {3, 95 * time.Second, 0}, {3, time.Hour, 0}, {3, -time.Second, 3}} {
		if got := o.Decay(tc.n, tc.d); got != tc.want {
			t.Errorf("Decay(%d, %v) = %d, want %d", tc.n, tc.d, got, tc.want)
		}
	}
	if o, _ := (health.OutlierConfig{BaseEjectionTime: 10 * time.Minute}).Normalized(); o.MaxEjectionTime != 10*time.Minute {
		t.Errorf("MaxEjectionTime defaults to at least BaseEjectionTime: %v", o.MaxEjectionTime)
	}
	for _, tc := range []struct {
		cfg   health.OutlierConfig
		field string
	}{
		{health.OutlierConfig{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		{health.OutlierConfig{ConsecutiveFailures: 1001}, "ConsecutiveFailures"},
		{health.OutlierConfig{BaseEjectionTime: time.Millisecond}, "BaseEjectionTime"},
		{health.OutlierConfig{MaxEjectionTime: 10 * time.Second}, "MaxEjectionTime"},
		{health.OutlierConfig{MaxEjectionTime: 25 * time.Hour}, "MaxEjectionTime"},
		{health.OutlierConfig{MaxEjectionPercent: 101}, "MaxEjectionPercent"},
		{health.OutlierConfig{MaxEjectionPercent: -5}, "MaxEjectionPercent"},
	} {
		_, err := tc.cfg.Normalized()
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: error %v, want a ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
}

func TestSlowStartPercent(t *testing.T) {
	s, err := health.SlowStart{Window: 100 * time.Second}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[time.Duration]int{-time.Second: 10, 0: 10, 9 * time.Second: 10, 10 * time.Second: 10,
		11 * time.Second: 11, 50 * time.Second: 50, 99*time.Second + 999*time.Millisecond: 99, 100 * time.Second: 100, time.Hour: 100} {
		if got := s.Percent(d); got != want {
			t.Errorf("Percent(%v) = %d, want %d", d, got, want)
		}
	}
	for _, tc := range []struct {
		s     health.SlowStart
		field string
	}{
		{health.SlowStart{Window: -time.Second}, "Window"},
		{health.SlowStart{Window: 29 * time.Second}, "Window"},
		{health.SlowStart{Window: 1201 * time.Second}, "Window"},
		{health.SlowStart{Window: time.Minute, MinWeightPercent: 101}, "MinWeightPercent"},
	} {
		_, err := tc.s.Normalized()
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: error %v, want a ConfigError for %s", tc.s, err, tc.field)
		}
	}
}

// TestConfigProbeErrorPath: a probe's field error, seen from Config, is
// under "Probe"; the probe's own Validate names its field alone.
func TestConfigProbeErrorPath(t *testing.T) {
	p := &health.HTTPCheck{Port: 70000}
	_, err := health.Config{Probe: p}.Normalized()
	var ce *elb.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Probe.Port" || !errors.Is(err, elb.ErrInvalidConfig) {
		t.Fatalf("error %v, want a ConfigError for Probe.Port", err)
	}
	if want := "elb: Probe.Port: 70000 must be 0 (the backend's port) or 1-65535"; err.Error() != want {
		t.Errorf("text %q, want %q", err, want)
	}
	if err := p.Validate(); !errors.As(err, &ce) || ce.Field != "Port" {
		t.Errorf("Validate: %v, want a ConfigError for Port", err)
	}
}

func TestMachineAdmit(t *testing.T) {
	m := healthcheck.NewMachine(health.Config{})
	m.Observe(true)
	if !m.Admit() || m.State() != health.Healthy || m.Successes() != 1 {
		t.Fatalf("Admit of an Initial machine: %v, %d successes", m.State(), m.Successes())
	}
	if m.Admit() {
		t.Fatal("Admit of a Healthy machine changed it")
	}
	for range 3 {
		m.Observe(false)
	}
	if m.Admit() || m.State() != health.Unhealthy {
		t.Fatal("Admit must not bring an Unhealthy machine back: that takes HealthyThreshold passes")
	}
}

// The zero SlowStart is slow start with every default, as the zero
// OutlierConfig is outlier detection with every default.
func TestZeroSlowStartMeansDefaults(t *testing.T) {
	s, err := health.SlowStart{}.Normalized()
	if err != nil || s.Window != health.DefaultSlowStartWindow || s.MinWeightPercent != health.DefaultMinWeightPercent {
		t.Fatalf("SlowStart{}.Normalized() = %+v, %v; want the defaults", s, err)
	}
	if _, err := (health.OutlierConfig{}).Normalized(); err != nil {
		t.Fatalf("OutlierConfig{}.Normalized(): %v", err)
	}
}
