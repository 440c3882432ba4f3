package discovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// The errors of the discovery package, usable with [errors.Is].
var (
	// ErrNoRecords: a DNS name that does not exist (NXDOMAIN) or has no
	// records of the type looked up. The DNS source returns it as an error,
	// never as an empty list, so that Sync keeps the group's members.
	ErrNoRecords = errors.New("no records")
	// ErrMalformed: a backend file that is not valid JSON, does not follow
	// the format, or lists an invalid backend. The error is a [*FileError]
	// naming the file, the line and column, and the field.
	ErrMalformed = errors.New("malformed backend list")
	// ErrNotRegularFile: a backend file that is not a regular file, such
	// as a named pipe, a device or a directory. The error is a
	// [*FileError] saying what the file is.
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrFileTooLarge: a backend file larger than [MaxFileSize]. The error
	// is a [*FileError].
	ErrFileTooLarge = errors.New("backend file too large")
)

// FileError reports a backend file that could not be read or used. For
// content that is not valid (Err is ErrMalformed), Line and Column locate
// the problem and Field names the value, such as "backends[2].weight".
type FileError struct {
	// Path is the file's path, as File.Path gives it.
	Path string
	// Line and Column, both from 1, locate the problem; Column counts
	// bytes. 0 when the error concerns the whole file (it cannot be read).
	Line, Column int
	// Field is the JSON path of the offending value, such as
	// "backends[2].weight"; "" when the problem is not in one value.
	Field string
	// Err is ErrMalformed for bad content, ErrNotRegularFile for a file
	// that is not a regular file, ErrFileTooLarge for one larger than
	// MaxFileSize, or the error of reading the file (errors.Is(err,
	// fs.ErrNotExist) for a missing one).
	Err error
	// Problem says what exactly is wrong; "" for a read error.
	Problem string
}

// Error reads "elb: discovery: path:line:column: field: error: problem",
// leaving out the parts that are empty.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString("elb: discovery: ")
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Problem != "" {
		b.WriteString(": ")
		b.WriteString(e.Problem)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *FileError) Unwrap() error { return e.Err }

// MinPollInterval is the shortest File.Interval, DNS.Interval and
// DNS.MinInterval. A shorter one is a configuration error: most likely a
// bare number, which a time.Duration counts in nanoseconds (Interval: 5
// is 5ns, not 5s), and otherwise a poll loop that would keep a core busy.
const MinPollInterval = time.Millisecond

// interval returns d, or def when d is 0, or an *elb.ConfigError when d
// is negative or positive but below MinPollInterval.
func interval(field string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, cfgerr.New(field, d, "must not be negative")
	case d == 0:
		return def, nil
	case d < MinPollInterval:
		return 0, cfgerr.New(field, d, fmt.Sprintf("must be 0 (the default) or at least %v", MinPollInterval))
	}
	return d, nil
}

// lock takes sem, a one-slot semaphore, unless ctx ends first.
func lock(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
