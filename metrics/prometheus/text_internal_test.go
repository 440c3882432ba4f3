package prometheus

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendFloat writes every value as the client library's text encoder
// does: 0, -0, ±1, integers on both sides of 1e6, fractions, huge, tiny,
// NaN and ±Inf, and random values of every magnitude.
func TestAppendFloatAsTheEncoder(t *testing.T) {
	vs := []float64{0, math.Copysign(0, -1), 1, -1, 2, -2, 0.5, 999999, -999999, 1e6, -1e6, 1234567, 1e15, 1 << 53, 1e21, 1e22,
		1e-4, 1e-5, 1.5e-7, 123456.7, 15.99995904, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		vs = append(vs, math.Float64frombits(rng.Uint64()), float64(rng.IntN(3_000_000)-1_500_000), rng.Float64()*math.Pow(10, float64(rng.IntN(40)-20)))
	}
	for _, v := range vs {
		var b bytes.Buffer
		_, err := expfmt.MetricFamilyToText(&b, &dto.MetricFamily{Name: new("x"), Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}})
		require.NoError(t, err)
		want := strings.TrimSuffix(strings.TrimPrefix(b.String()[strings.Index(b.String(), "\nx ")+1:], "x "), "\n")
		assert.Equal(t, want, string(appendFloat(nil, v)), "%v (bits %#x)", v, math.Float64bits(v))
	}
}

// appendLabel escapes as the encoder does: backslash, double quote and
// newline, nothing else.
func TestAppendLabelAsTheEncoder(t *testing.T) {
	for _, v := range []string{"", "plain", `a"b`, `a\b`, "a\nb", "\\\"\n\r\t\x00é\uFFFD", `\\n`} {
		var b bytes.Buffer
		_, err := expfmt.MetricFamilyToText(&b, &dto.MetricFamily{Name: new("x"), Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: new("l"), Value: &v}}, Gauge: &dto.Gauge{Value: new(1.0)}}}})
		require.NoError(t, err)
		line := b.String()[strings.Index(b.String(), "\nx{")+3:]
		assert.Equal(t, line[:strings.LastIndex(line, "} ")], string(appendLabel(nil, "l", v)), "%q", v)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "identity": false, "deflate, gzip": true, "gzip;q=1.0": true,
		"gzip;q=0": false, "gzip; q=0.000": false, "gzip;q=0.001": true, " gzip ;q=0.5, identity": true, "x-gzip": false,
	} {
		assert.Equal(t, want, acceptsGzip(h), "%q", h)
	}
}
