package discovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/internal/hostport"
	"github.com/go-elb/elb/internal/wait"
)

// DefaultFileInterval is File.Interval when it is 0.
const DefaultFileInterval = 5 * time.Second

// MaxFileSize is the largest backend file a FileSource reads, 16 MiB: a
// larger one is an error (a *FileError wrapping ErrFileTooLarge), not read.
const MaxFileSize = 16 << 20

// maxFileSize is MaxFileSize, a variable for tests.
var maxFileSize int64 = MaxFileSize

// File configures a source of backends from a JSON file, such as one a
// configuration system writes:
//
//	{"backends": [
//		{"id": "a", "addr": "10.0.1.5:8080", "weight": 3, "zone": "az1"},
//		{"addr": "10.0.2.7:8080", "metadata": {"version": "v2"}}
//	]}
//
// The file holds one object with one field, "backends": the whole
// membership, a list of objects with these fields:
//
//   - "addr", required: "host:port", port 1-65535.
//   - "id": the backend's ID, unique in the file; absent or "" means addr.
//   - "weight": 1-100, or 0 for no new requests (a cloud load balancer's
//     weight 0); absent or null means group.DefaultWeight (1). It is
//     group.Backend.Weight: 0 is group.Weight(0), absent is nil.
//   - "zone": the backend's availability zone.
//   - "metadata": an object of strings.
//
// Field names are case-sensitive ("Addr" is not "addr"), and a field
// appears at most once in an object (metadata's included). Anything else
// (an unknown field, a field name in another case, a duplicate field, a
// bare array, a value of the wrong type, trailing data) is an error: a
// *FileError wrapping ErrMalformed with the line, column and field of the
// problem. The file is UTF-8; a UTF-8 byte order mark at its start is
// skipped (the columns of line 1 count from after it), and a UTF-16 one is
// an error.
//
// The file must be a regular file (a named pipe or a device is a
// *FileError wrapping ErrNotRegularFile) of at most MaxFileSize (16 MiB;
// larger is a *FileError wrapping ErrFileTooLarge). To replace the file
// without a reader seeing it half written, write a new file and rename it
// over the old one.
type File struct {
	// Path is the file's path, required.
	Path string
	// Interval is how often the file is read to see whether its content
	// changed, at least MinPollInterval (1ms): each poll reads and hashes
	// the whole file. 0 means DefaultFileInterval (5s); negative values
	// and values below MinPollInterval are invalid.
	Interval time.Duration
	// Clock times the polls; nil means the real clock.
	Clock group.Clock
}

// FileSource is a group.Source that reads backends from a file in the
// format File documents. Create one with NewFile.
//
// The first Next reads the file at once and returns its backends as a Full
// update, or an error. Later calls read the file at once and then every
// Interval, and return when its content differs from the content of the
// previous update or error (compared by SHA-256, so an edit that keeps the
// size and modification time is seen): a Full update, or a *FileError if
// the new content is malformed. So malformed content is reported once,
// not at every poll. An error reading the file (it is missing, not a
// regular file or larger than MaxFileSize, say) is returned at once and
// the next call reads again. Either way group.Sync keeps the group's
// members. A read stops when Next's context ends.
//
// Next may be called from one goroutine at a time; concurrent calls wait
// their turn.
type FileSource struct {
	cfg   File
	clock group.Clock

	sem  chan struct{}     // one Next at a time; guards the rest
	read bool              // the file has been read once
	last [sha256.Size]byte // the content last returned, as an update or an error
}

// NewFile returns a file source, or an *elb.ConfigError (wrapping
// elb.ErrInvalidConfig) for a field of cfg out of range. The file need not
// exist yet: Next reports it missing.
func NewFile(cfg File) (*FileSource, error) {
	if cfg.Path == "" {
		return nil, cfgerr.New("Path", nil, "is required")
	}
	var err error
	if cfg.Interval, err = interval("Interval", cfg.Interval, DefaultFileInterval); err != nil {
		return nil, err
	}
	s := &FileSource{cfg: cfg, clock: cfg.Clock, sem: make(chan struct{}, 1)}
	if s.clock == nil {
		s.clock = health.RealClock{}
	}
	return s, nil
}

// Next waits until the file's content changes, as FileSource documents,
// and returns it.
func (s *FileSource) Next(ctx context.Context) (group.SourceUpdate, error) {
	if err := lock(ctx, s.sem); err != nil {
		return group.SourceUpdate{}, err
	}
	defer func() { <-s.sem }()
	for {
		if err := ctx.Err(); err != nil {
			return group.SourceUpdate{}, err
		}
		data, err := readFile(ctx, s.cfg.Path)
		if err != nil {
			if ctx.Err() != nil {
				return group.SourceUpdate{}, ctx.Err()
			}
			return group.SourceUpdate{}, err
		}
		if sum := sha256.Sum256(data); !s.read || sum != s.last {
			s.read, s.last = true, sum
			bs, err := parseBackends(s.cfg.Path, data)
			if err != nil {
				return group.SourceUpdate{}, err
			}
			return group.SourceUpdate{Full: true, Backends: bs}, nil
		}
		if err := wait.Sleep(ctx, s.clock, s.cfg.Interval); err != nil {
			return group.SourceUpdate{}, err
		}
	}
}

// readFile reads the backend file at path: a regular file of at most
// MaxFileSize bytes, read until ctx ends. Its errors are *FileError
// values.
func readFile(ctx context.Context, path string) ([]byte, error) {
	// Without blocking: opening a named pipe for reading would wait for a
	// writer.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &FileError{Path: path, Err: ErrNotRegularFile, Problem: fmt.Sprintf("%s (mode %v); want a regular file", fileKind(fi.Mode()), fi.Mode())}
	}
	tooLarge := func(what string) error {
		return &FileError{Path: path, Err: ErrFileTooLarge, Problem: fmt.Sprintf("%s; MaxFileSize is %d bytes (16 MiB)", what, MaxFileSize)}
	}
	if fi.Size() > maxFileSize {
		return nil, tooLarge(fmt.Sprintf("%d bytes", fi.Size()))
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + 512)
	// One byte more than allowed tells a file that grew too large, or that
	// has more than its size says, as some of /proc's do.
	if _, err := buf.ReadFrom(io.LimitReader(ctxReader{ctx, f}, maxFileSize+1)); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if int64(buf.Len()) > maxFileSize {
		return nil, tooLarge(fmt.Sprintf("more than its size, %d bytes, and than MaxFileSize", fi.Size()))
	}
	return buf.Bytes(), nil
}

// fileKind names the kind of file of a mode that is not a regular file's.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// ctxReader reads from r until ctx ends, then returns ctx.Err().
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fileBackend is one entry of a backend file.
type fileBackend struct {
	ID       string            `json:"id"`
	Addr     string            `json:"addr"`
	Weight   *int              `json:"weight"`
	Zone     string            `json:"zone"`
	Metadata map[string]string `json:"metadata"`
}

// fileFields are fileBackend's JSON fields, for errors.
const fileFields = `"id", "addr", "weight", "zone" and "metadata"`

// utf8BOM is the UTF-8 encoding of the byte order mark, U+FEFF.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// parseBackends reads a backend file's content, as File documents.
func parseBackends(path string, data []byte) ([]group.Backend, error) {
	var ix *jsonIndex // built when first needed, by an error or the strictness check
	index := func() *jsonIndex {
		if ix == nil {
			ix = indexJSON(data)
		}
		return ix
	}
	malformed := func(off int, field, format string, args ...any) error {
		line, col := position(data, off)
		return &FileError{Path: path, Line: line, Column: col, Field: field, Err: ErrMalformed, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case bytes.HasPrefix(data, utf8BOM):
		data = data[len(utf8BOM):] // as File documents: skipped
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}), bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return nil, malformed(0, "", "the file starts with a UTF-16 byte order mark; want UTF-8")
	}
	start := skipSpace(data, 0)
	if start == len(data) {
		return nil, malformed(0, "", `the file is empty; want {"backends": [...]}`)
	}
	var doc struct {
		Backends *[]fileBackend `json:"backends"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, malformed(int(syntax.Offset)-1, "", "%s", strings.TrimPrefix(syntax.Error(), "json: "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, malformed(len(data), "", "the JSON ends early (a truncated file?)")
		case errors.As(err, &typ):
			field, off := index().value(int(typ.Offset))
			if field == "" && typ.Field == "" {
				return nil, malformed(start, "", `the file holds %s; want an object {"backends": [...]}`, article(typ.Value))
			}
			if field == "" {
				field, off = typ.Field, start
			}
			return nil, malformed(off, field, "%s, want %s", article(typ.Value), jsonKind(typ.Type))
		}
		if ix := index(); ix.unknown != "" {
			return nil, malformed(ix.unknownAt, ix.unknown, "%s", ix.unknownProblem())
		}
		return nil, malformed(start, "", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if end := skipSpace(data, int(dec.InputOffset())); end < len(data) {
		return nil, malformed(end, "", "data after the backends object")
	}
	// encoding/json matches field names whatever their case, and takes the
	// last of duplicate fields: the index finds both, the first in the
	// file reported.
	if ix := index(); ix.unknown != "" && (ix.dup == "" || ix.unknownAt < ix.dupAt) {
		return nil, malformed(ix.unknownAt, ix.unknown, "%s", ix.unknownProblem())
	} else if ix.dup != "" {
		line, col := position(data, ix.dupFirst)
		return nil, malformed(ix.dupAt, ix.dup, "duplicate field, first at line %d, column %d", line, col)
	}
	if doc.Backends == nil {
		return nil, malformed(start, "backends", `missing or null; want {"backends": [...]}`)
	}
	entries := *doc.Backends
	bs := make([]group.Backend, len(entries))
	ids := make(map[string]int, len(entries))
	addrs := make(map[string]int, len(entries))
	for i, e := range entries {
		// at locates entry i's field, or the entry if the field is absent.
		at := func(field string) (int, string) {
			p := fmt.Sprintf("backends[%d]", i)
			if off, ok := index().pos[p+"."+field]; ok {
				return off, p + "." + field
			}
			return index().pos[p], p + "." + field
		}
		if e.Addr == "" {
			off, f := at("addr")
			return nil, malformed(off, f, "required")
		}
		if problem := hostport.Check(e.Addr, false); problem != "" {
			off, f := at("addr")
			return nil, malformed(off, f, "%s", problem)
		}
		b := group.Backend{ID: e.ID, Addr: e.Addr, Zone: e.Zone, Metadata: e.Metadata}
		if w := e.Weight; w != nil {
			if *w < 0 || *w > group.MaxWeight {
				off, f := at("weight")
				return nil, malformed(off, f, "%d is outside 0-%d (0: no new requests; leave it out for the default, %d)", *w, group.MaxWeight, group.DefaultWeight)
			}
			b.Weight = group.Weight(*w)
		}
		idField := "id"
		if b.ID == "" {
			b.ID, idField = b.Addr, "addr"
		}
		if j, ok := ids[b.ID]; ok {
			off, f := at(idField)
			return nil, malformed(off, f, "ID %q is also backends[%d]'s", b.ID, j)
		}
		if j, ok := addrs[b.Addr]; ok {
			off, f := at("addr")
			return nil, malformed(off, f, "address %q is also backends[%d]'s", b.Addr, j)
		}
		ids[b.ID], addrs[b.Addr] = i, i
		bs[i] = b
	}
	return bs, nil
}

// article puts "a" or "an" before a json.UnmarshalTypeError's Value, such
// as "string" or "number 1.5".
func article(v string) string {
	if v != "" && strings.ContainsRune("aeiou", rune(v[0])) {
		return "an " + v
	}
	return "a " + v
}

// jsonKind describes the JSON that decodes into t.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}

// position returns the line and column, from 1, of byte off of data.
func position(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
	return line, col
}

// skipSpace returns the offset of the first byte at or after off that is
// not JSON white space.
func skipSpace(data []byte, off int) int {
	for off < len(data) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
		off++
	}
	return off
}

// jsonIndex locates the values of a JSON document by path, such as
// "backends[2].weight", for error messages.
type jsonIndex struct {
	pos       map[string]int // where each path starts: its key, or an element's value
	spans     []span         // every value, in document order
	unknown   string         // the path of the first key the backend format does not have
	unknownIn string         // the path of the object that holds it
	unknownAt int            // where that key is
	dup       string         // the path of the first key that is a duplicate in its object
	dupAt     int            // where that key is
	dupFirst  int            // where its first occurrence is
}

// unknownProblem describes the unknown field.
func (ix *jsonIndex) unknownProblem() string {
	key := ix.unknown
	if ix.unknownIn != "" {
		key = strings.TrimPrefix(ix.unknown, ix.unknownIn+".")
	}
	for _, f := range []string{"backends", "id", "addr", "weight", "zone", "metadata"} {
		if strings.EqualFold(key, f) && knownField(ix.unknownIn, f) {
			return fmt.Sprintf("unknown field; field names are case-sensitive: want %q", f)
		}
	}
	if ix.unknownIn != "" {
		return "unknown field; an entry has the fields " + fileFields
	}
	return `unknown field; the file holds one field, "backends"`
}

// span is one value of a JSON document: its path, where it starts, and
// where its first token ends.
type span struct {
	path       string
	start, end int
}

// indexJSON indexes data, as far as it is valid JSON.
func indexJSON(data []byte) *jsonIndex {
	ix := &jsonIndex{pos: make(map[string]int)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = ix.walk(dec, data, "")
	return ix
}

// token reads the next token and returns it with the offset where it
// starts.
func token(dec *json.Decoder, data []byte) (json.Token, int, error) {
	off := int(dec.InputOffset())
	for off < len(data) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
		off++
	}
	tok, err := dec.Token()
	return tok, off, err
}

// walk indexes the value at path and everything in it.
func (ix *jsonIndex) walk(dec *json.Decoder, data []byte, path string) error {
	tok, start, err := token(dec, data)
	if err != nil {
		return err
	}
	ix.spans = append(ix.spans, span{path, start, int(dec.InputOffset())})
	if _, ok := ix.pos[path]; !ok { // a key's position stands for its value
		ix.pos[path] = start
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]int) // key: where it is
		for dec.More() {
			k, at, err := token(dec, data)
			if err != nil {
				return err
			}
			key, _ := k.(string)
			p := key
			if path != "" {
				p = path + "." + key
			}
			ix.pos[p] = at
			if ix.unknown == "" && !knownField(path, key) {
				ix.unknown, ix.unknownIn, ix.unknownAt = p, path, at
			}
			if first, ok := seen[key]; ok && ix.dup == "" {
				ix.dup, ix.dupAt, ix.dupFirst = p, at, first
			} else if !ok {
				seen[key] = at
			}
			if err := ix.walk(dec, data, p); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := ix.walk(dec, data, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// value returns the path and start of the value whose first token ends at
// off, as json.UnmarshalTypeError.Offset reports it; "" if none does.
func (ix *jsonIndex) value(off int) (string, int) {
	for _, s := range ix.spans {
		if s.end == off {
			return s.path, s.start
		}
	}
	return "", 0
}

// knownField reports whether the backend format has the field key in the
// object at path.
func knownField(path, key string) bool {
	switch {
	case path == "":
		return key == "backends"
	case strings.HasPrefix(path, "backends[") && strings.HasSuffix(path, "]") && !strings.Contains(path, "."):
		switch key {
		case "id", "addr", "weight", "zone", "metadata":
			return true
		}
		return false
	}
	return true // inside metadata, anything goes
}
