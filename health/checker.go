package health

import (
	"errors"
)

// ErrProbeTimeout is wrapped by the error of a probe that outlived
// Config.Timeout.
var ErrProbeTimeout = errors.New("health probe timed out")

// ErrSkipped is wrapped by the error of a probe that could not check its
// target for a reason that says nothing about the target's health, such as
// the gRPC policy's probe finding no connection to the backend (which the
// connection's own state already reports). A group leaves the backend's
// health state as it is.
var ErrSkipped = errors.New("health check skipped")

// ErrProbePanic is wrapped by the error of a probe whose Prober panicked.
var ErrProbePanic = errors.New("health probe panicked")
