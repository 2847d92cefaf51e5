package lease

import "errors"

// ErrInvalidOption is wrapped by every error New or an Option returns.
var ErrInvalidOption = errors.New("invalid option")

// ErrNoTTL means the lease bucket has no TTL, so a crashed leader's
// lease would never expire: create it with bus.EnsureBuckets.
var ErrNoTTL = errors.New("lease bucket needs a TTL")
