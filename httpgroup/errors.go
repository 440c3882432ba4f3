package httpgroup

import (
	"errors"
	"fmt"
	"strings"
)

// The reasons a failed request was not retried, usable with [errors.Is] on
// the *AttemptsError that RoundTrip returns (see AttemptsError.Reason).
var (
	// ErrNotReplayable: the attempt failed with a connection error that
	// called for a retry, but the request has a body and no GetBody to
	// send it again with, so it was not retried: a request is never sent
	// twice with a body that may have been consumed. Set Request.GetBody
	// (http.NewRequest does it for a *bytes.Buffer, *bytes.Reader or
	// *strings.Reader body) to make it retriable.
	ErrNotReplayable = errors.New("request body cannot be replayed (no GetBody)")

	// ErrNotIdempotent: the attempt failed after the request may have
	// reached the backend (not a dial error), and the request is not
	// idempotent (see Transport), so it was not retried: the backend may
	// have acted on it.
	ErrNotIdempotent = errors.New("request is not idempotent and may have reached the backend")
)

// AttemptError is one failed attempt of a request.
type AttemptError struct {
	// Attempt is the attempt's number, 1 for the first.
	Attempt int
	// ID and Addr are the backend the attempt went to; both are empty when
	// the group had no backend to pick (Err is then the group's error,
	// such as one wrapping group.ErrNoHealthyBackend).
	ID, Addr string
	// Err is what the attempt failed with: the base RoundTripper's error,
	// the group's, or, for a response retried under Transport.RetryStatus,
	// an error naming its status.
	Err error
}

// Error names the attempt, its backend and what it failed with.
func (e *AttemptError) Error() string {
	if e.ID == "" && e.Addr == "" {
		return fmt.Sprintf("attempt %d: %v", e.Attempt, e.Err)
	}
	return fmt.Sprintf("attempt %d: backend %q (%s): %v", e.Attempt, e.ID, e.Addr, e.Err)
}

// Unwrap returns Err.
func (e *AttemptError) Unwrap() error { return e.Err }

// AttemptsError is the error of a request that got no response: it holds
// every attempt's error and, if the attempts stopped before
// Transport.MaxAttempts, why. errors.Is and errors.As see through it to
// each attempt's error and to the reason: errors.Is(err,
// group.ErrNoHealthyBackend), errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, ErrNotReplayable) all work.
type AttemptsError struct {
	// Attempts are the failed attempts, in order; never empty.
	Attempts []*AttemptError
	// Reason is why no further attempt was made: the request context's
	// error once it is done, ErrNotIdempotent or ErrNotReplayable. It is
	// nil when the attempts ran out (MaxAttempts), no backend could be
	// picked, or GetBody failed.
	Reason error
}

// Error lists every attempt's error, then the reason there was no other.
func (e *AttemptsError) Error() string {
	var b strings.Builder
	b.WriteString("elb: httpgroup: ")
	if len(e.Attempts) > 1 {
		fmt.Fprintf(&b, "%d attempts failed: ", len(e.Attempts))
	}
	for i, a := range e.Attempts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(a.Error())
	}
	if e.Reason != nil {
		b.WriteString("; ")
		b.WriteString(e.Reason.Error())
		b.WriteString("; not retried")
	}
	return b.String()
}

// Unwrap returns each attempt's error, then Reason if set.
func (e *AttemptsError) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts)+1)
	for _, a := range e.Attempts {
		errs = append(errs, a)
	}
	if e.Reason != nil {
		errs = append(errs, e.Reason)
	}
	return errs
}

// statusError is the error of an attempt whose response was retried under
// Transport.RetryStatus.
type statusError struct{ status string }

func (e *statusError) Error() string { return "response " + e.status + "; retried" }
