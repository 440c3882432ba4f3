package discovery

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/fakeclock"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func TestFileFormat(t *testing.T) {
	bs, err := parseBackends("b.json", []byte(`{"backends": [
		{"id": "a", "addr": "10.0.0.1:80", "weight": 3, "zone": "az1", "metadata": {"version": "v2"}},
		{"addr": "10.0.0.2:80"},
		{"addr": "orders-3.internal:80", "weight": 0},
		{"addr": "[2001:db8::1]:80", "weight": null}
	]}`))
	require.NoError(t, err)
	assert.Equal(t, []group.Backend{
		{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(3), Zone: "az1", Metadata: map[string]string{"version": "v2"}},
		{ID: "10.0.0.2:80", Addr: "10.0.0.2:80"},
		{ID: "orders-3.internal:80", Addr: "orders-3.internal:80", Weight: group.Weight(0)},
		{ID: "[2001:db8::1]:80", Addr: "[2001:db8::1]:80"},
	}, bs)

	bs, err = parseBackends("b.json", []byte(`{"backends": []}`))
	require.NoError(t, err)
	assert.Empty(t, bs, "an empty list parses; Sync refuses it unless AllowEmpty")

	// A UTF-8 byte order mark is skipped.
	bs, err = parseBackends("b.json", []byte("\xef\xbb\xbf{\"backends\": [{\"addr\": \"10.0.0.1:80\"}]}"))
	require.NoError(t, err)
	assert.Equal(t, []group.Backend{{ID: "10.0.0.1:80", Addr: "10.0.0.1:80"}}, bs)
}

func TestFileMalformed(t *testing.T) {
	for _, tc := range []struct {
		content      string
		line, column int
		field        string
		problem      string
	}{
		{"{\"backends\": [\n  {\"addr\": \"10.0.0.1:80\",}\n]}", 2, 26, "", "invalid character '}'"},
		{"{\"backends\": [\n  {\"addr\": \"10.0.0.1:80\", \"weight\": \"3\"}\n]}", 2, 37, "backends[0].weight", "a string, want an integer"},
		{"{\"backends\": [\n  {\"addr\": \"10.0.0.1:80\"},\n  {\"addr\": \"10.0.0.2:80\", \"weight\": 1.5}]}", 3, 37, "backends[1].weight", "a number 1.5, want an integer"},
		{"{\"backends\": [{\"addr\": \"10.0.0.1:80\", \"metadata\": {\"v\": 2}}]}", 1, 57, "backends[0].metadata.v", "a number, want a string"},
		{"{\"backends\": [\n  {\"addr\": \"10.0.0.1:80\",\n   \"port\": 80}]}", 3, 4, "backends[0].port", "unknown field"},
		{"{\"backends\": [], \"version\": 2}", 1, 18, "version", "unknown field"},
		{`[{"addr": "10.0.0.1:80"}]`, 1, 1, "", "the file holds an array"},
		{"{\"backends\": {}}", 1, 14, "backends", "an object, want an array"},
		{"", 1, 1, "", "the file is empty"},
		{"{\"backends\": [\n  {\"addr\": \"10.0.0.1:80\"}", 2, 26, "", "ends early"},
		{"{\"backends\": []}\n{\"backends\": []}", 2, 1, "", "data after"},
		{"{}", 1, 1, "backends", "missing"},
		{"{\"backends\": [{\"id\": \"a\"}]}", 1, 15, "backends[0].addr", "required"},
		{"{\"backends\": [{\"addr\": \"10.0.0.1\"}]}", 1, 16, "backends[0].addr", "not host:port"},
		{"{\"backends\": [{\"addr\": \"10.0.0.1:0\"}]}", 1, 16, "backends[0].addr", "want 1-65535"},
		{"{\"backends\": [{\"addr\": \" 10.0.0.1:80\"}]}", 1, 16, "backends[0].addr", "not an IP address or a DNS name"},
		{"{\"backends\": [{\"addr\": \"bad host:80\"}]}", 1, 16, "backends[0].addr", "not an IP address or a DNS name"},
		{"{\"backends\": [{\"addr\": \"h:080\"}]}", 1, 16, "backends[0].addr", "without leading zeros"},
		{"{\"backends\": [{\"addr\": \"10.0.0.1:80\", \"weight\": 101}]}", 1, 39, "backends[0].weight", "101 is outside 0-100"},
		{"{\"backends\": [{\"addr\": \"10.0.0.1:80\", \"weight\": -1}]}", 1, 39, "backends[0].weight", "-1 is outside 0-100"},
		{"{\"backends\": [\n{\"id\": \"a\", \"addr\": \"10.0.0.1:80\"},\n{\"id\": \"a\", \"addr\": \"10.0.0.2:80\"}]}", 3, 2, "backends[1].id", `ID "a" is also backends[0]'s`},
		{"{\"backends\": [\n{\"addr\": \"10.0.0.1:80\"},\n{\"id\": \"b\", \"addr\": \"10.0.0.1:80\"}]}", 3, 13, "backends[1].addr", `address "10.0.0.1:80" is also backends[0]'s`},
		// Field names are matched exactly, not whatever their case, as
		// encoding/json does.
		{`{"Backends":[{"ADDR":"10.0.0.1:80","Weight":2}]}`, 1, 2, "Backends", `unknown field; field names are case-sensitive: want "backends"`},
		{"{\"backends\": [\n{\"ADDR\": \"10.0.0.1:80\", \"Weight\": 2}]}", 2, 2, "backends[0].ADDR", `case-sensitive: want "addr"`},
		{`{"backends": [{"addr": "10.0.0.1:80", "weight": 2, "Weight": 3}]}`, 1, 52, "backends[0].Weight", `case-sensitive: want "weight"`},
		{`{"backends": [{"addr": "10.0.0.1:80", "Port": 80}]}`, 1, 39, "backends[0].Port", `unknown field; an entry has the fields "id"`},
		{`{"backends": [], "Version": 2}`, 1, 18, "Version", `unknown field; the file holds one field, "backends"`},
		// Duplicate fields, which encoding/json takes the last of.
		{"{\"backends\": [\n{\"addr\": \"10.0.0.1:80\", \"addr\": \"10.0.0.2:80\"}]}", 2, 25, "backends[0].addr", "duplicate field, first at line 2, column 2"},
		{"{\"backends\": [],\n \"backends\": [{\"addr\": \"10.0.0.1:80\"}]}", 2, 2, "backends", "duplicate field, first at line 1, column 2"},
		{`{"backends": [{"addr": "10.0.0.1:80", "metadata": {"v": "1", "v": "2"}}]}`, 1, 62, "backends[0].metadata.v", "duplicate field, first at line 1, column 52"},
		{`{"backends": [{"addr": "10.0.0.1:80", "weight": 2, "weight": 3}]}`, 1, 52, "backends[0].weight", "duplicate field, first at line 1, column 39"},
		// The first problem in the file is the one reported.
		{`{"backends": [{"addr": "10.0.0.1:80", "addr": "10.0.0.2:80", "Zone": "a"}]}`, 1, 39, "backends[0].addr", "duplicate field, first at line 1, column 16"},
		{`{"backends": [{"Zone": "a", "addr": "10.0.0.1:80", "addr": "10.0.0.2:80"}]}`, 1, 16, "backends[0].Zone", `want "zone"`},
		// Byte order marks: UTF-8's skipped (columns count from after
		// it), UTF-16's refused.
		{"\xef\xbb\xbf{\"backends\": [], \"x\": 1}", 1, 18, "x", "unknown field"},
		{"\xff\xfe{\x00}\x00", 1, 1, "", "UTF-16 byte order mark"},
		{"\xfe\xff\x00{\x00}", 1, 1, "", "UTF-16 byte order mark"},
	} {
		_, err := parseBackends("/etc/elb/orders.json", []byte(tc.content))
		require.ErrorIs(t, err, ErrMalformed, tc.content)
		var fe *FileError
		require.ErrorAs(t, err, &fe, tc.content)
		assert.Equal(t, "/etc/elb/orders.json", fe.Path)
		assert.Equal(t, [2]int{tc.line, tc.column}, [2]int{fe.Line, fe.Column}, "%q: %v", tc.content, err)
		assert.Equal(t, tc.field, fe.Field, "%q: %v", tc.content, err)
		assert.Contains(t, fe.Problem, tc.problem, tc.content)
		assert.Contains(t, err.Error(), "/etc/elb/orders.json:", tc.content)
	}
}

func TestFileSourcePollsForChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backends.json")
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	s, err := NewFile(File{Path: path, Clock: clk})
	require.NoError(t, err)

	_, err = s.Next(ctx)
	require.ErrorIs(t, err, fs.ErrNotExist, "a missing file is an error")
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Zero(t, fe.Line)

	writeFile(t, path, `{"backends": [{"id": "a", "addr": "10.0.0.1:80", "weight": 3}]}`)
	u, err := s.Next(ctx) // read at once after an error
	require.NoError(t, err)
	assert.True(t, u.Full)
	assert.Equal(t, []string{"10.0.0.1:80/3@ id a"}, described(u.Backends))

	// Unchanged: Next keeps polling, every 5s.
	ch := nextAsync(s)
	for range 3 {
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		clk.Advance(DefaultFileInterval - time.Millisecond)
		require.Equal(t, 1, clk.Pending())
		clk.Advance(time.Millisecond)
	}
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	require.Empty(t, ch)

	// An edit that keeps the size is seen at the next poll.
	writeFile(t, path, `{"backends": [{"id": "a", "addr": "10.0.0.1:80", "weight": 4}]}`)
	r := expectRefreshAfter(t, clk, ch, DefaultFileInterval)
	require.NoError(t, r.err)
	assert.Equal(t, []string{"10.0.0.1:80/4@ id a"}, described(r.u.Backends))

	// Malformed content is reported once, however long it stays.
	ch = nextAsync(s)
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	writeFile(t, path, `{"backends": [{"id": "a", "addr": "10.0.0.1:80", "weight": 400}]}`)
	r = expectRefreshAfter(t, clk, ch, DefaultFileInterval)
	require.ErrorIs(t, r.err, ErrMalformed)
	cctx, cancel := context.WithCancel(ctx)
	ch = nextAsyncCtx(cctx, s)
	for range 3 {
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		clk.Advance(DefaultFileInterval)
	}
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	require.Empty(t, ch)
	cancel()
	r = <-ch
	assert.ErrorIs(t, r.err, context.Canceled)
	assert.Zero(t, clk.Pending(), "the poll timer is stopped")
}

func TestFileSyncKeepsTheLastGoodList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backends.json")
	writeFile(t, path, `{"backends": [{"id": "a", "addr": "10.0.0.1:80"}, {"id": "b", "addr": "10.0.0.2:80", "weight": 2}]}`)
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	s, err := NewFile(File{Path: path, Clock: clk})
	require.NoError(t, err)
	g, errs := syncing(t, s, group.SyncConfig{Clock: clk})
	members := func() []string { return described(g.Backends()) }
	good := []string{"10.0.0.1:80/1@ id a", "10.0.0.2:80/2@ id b"}
	require.Eventually(t, func() bool { return slicesEqual(members(), good) }, 5*time.Second, time.Millisecond)

	// A malformed file is reported with its line and field; the group
	// keeps its members.
	writeFile(t, path, "{\"backends\": [\n  {\"id\": \"a\", \"addr\": \"10.0.0.1:80\", \"wieght\": 2}\n]}")
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	clk.Advance(DefaultFileInterval)
	select {
	case err := <-errs:
		var fe *FileError
		require.ErrorAs(t, err, &fe)
		assert.True(t, errors.Is(err, ErrMalformed))
		assert.Equal(t, 2, fe.Line)
		assert.Equal(t, "backends[0].wieght", fe.Field)
	case <-time.After(5 * time.Second):
		t.Fatal("the malformed file was not reported")
	}
	assert.Equal(t, good, members())

	// A truncated file, and an empty list: the same.
	writeFile(t, path, `{"backends": [{"id": "a", "addr": "10.0`)
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	clk.Advance(time.Minute) // Sync's backoff ends; Next reads at once
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, ErrMalformed)
	case <-time.After(5 * time.Second):
		t.Fatal("the truncated file was not reported")
	}
	assert.Equal(t, good, members())
	writeFile(t, path, `{"backends": []}`)
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	clk.Advance(time.Minute)
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, group.ErrEmptyUpdate)
	case <-time.After(5 * time.Second):
		t.Fatal("the empty list was not refused")
	}
	assert.Equal(t, good, members())

	// A fixed, changed file is picked up.
	writeFile(t, path, `{"backends": [{"id": "b", "addr": "10.0.0.2:80", "weight": 5}, {"id": "c", "addr": "10.0.0.3:80", "zone": "az2"}]}`)
	require.Eventually(t, func() bool {
		clk.Advance(time.Second)
		return slicesEqual(members(), []string{"10.0.0.2:80/5@ id b", "10.0.0.3:80/1@az2 id c"})
	}, 5*time.Second, time.Millisecond)
	assert.Empty(t, errs)
}

func TestFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backends.json")
	s, err := NewFile(File{Path: path})
	require.NoError(t, err)

	// Exactly MaxFileSize: read.
	content := `{"backends": [{"addr": "10.0.0.1:80"}]}`
	writeFile(t, path, content+strings.Repeat(" ", MaxFileSize-len(content)))
	u, err := s.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1:80/-@"}, described(u.Backends))

	// One byte more (sparse, as a runaway writer's file may be): refused,
	// not read.
	require.NoError(t, os.Truncate(path, MaxFileSize+1))
	_, err = s.Next(ctx)
	require.ErrorIs(t, err, ErrFileTooLarge)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, path, fe.Path)
	assert.Zero(t, fe.Line)
	assert.Contains(t, err.Error(), "backend file too large: 16777217 bytes; MaxFileSize is 16777216 bytes (16 MiB)")
}

func TestFileSizeLimitWhileReading(t *testing.T) {
	// A file that holds more than Stat says: /proc's report size 0.
	const path = "/proc/self/status"
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 || !fi.Mode().IsRegular() {
		t.Skipf("no %s of size 0 here", path)
	}
	old := maxFileSize
	maxFileSize = 16
	t.Cleanup(func() { maxFileSize = old })
	_, err := readFile(ctx, path)
	require.ErrorIs(t, err, ErrFileTooLarge)
	assert.Contains(t, err.Error(), "more than its size, 0 bytes, and than MaxFileSize")
}

func TestFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFile(File{Path: dir})
	require.NoError(t, err)
	_, err = s.Next(ctx)
	require.ErrorIs(t, err, ErrNotRegularFile)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, dir, fe.Path)
	assert.Contains(t, fe.Problem, "a directory")
}

func TestFileReadStopsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backends.json")
	writeFile(t, path, `{"backends": [{"addr": "10.0.0.1:80"}]}`)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := readFile(c, path)
	require.ErrorIs(t, err, context.Canceled)
	data, err := readFile(ctx, path)
	require.NoError(t, err)
	assert.Equal(t, `{"backends": [{"addr": "10.0.0.1:80"}]}`, string(data))
}

func TestFileConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   File
		field string
	}{
		{File{}, "Path"},
		{File{Path: "x.json", Interval: -time.Second}, "Interval"},
		{File{Path: "x.json", Interval: 5}, "Interval"}, // 5ns: meant 5s
		{File{Path: "x.json", Interval: MinPollInterval - 1}, "Interval"},
	} {
		_, err := NewFile(tc.cfg)
		require.ErrorIs(t, err, elb.ErrInvalidConfig)
		var ce *elb.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tc.field, ce.Field, "%v", err)
	}
	_, err := NewFile(File{Path: "x.json", Interval: 5})
	assert.EqualError(t, err, "elb: Interval: 5ns must be 0 (the default) or at least 1ms (a time.Duration counts nanoseconds: write 5 * time.Second, not 5)")
	_, err = NewFile(File{Path: "x.json", Interval: MinPollInterval})
	assert.NoError(t, err)
}
