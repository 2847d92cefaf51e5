package fleetsim

import "errors"

// ErrInvalidConfig is wrapped by every configuration or option error.
var ErrInvalidConfig = errors.New("invalid simulation config")

// ErrNotConverged means the fleet did not converge before the timeout; the
// error names what was still missing.
var ErrNotConverged = errors.New("fleet did not converge")

// ErrViolations means the run ended with safety violations (Result.Violations).
var ErrViolations = errors.New("safety violations")

// errConverged ends a run that stops once the fleet converged.
var errConverged = errors.New("converged")
