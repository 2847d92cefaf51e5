package natsauth

import "errors"

// ErrInvalidOption means an Option was given a value it cannot use.
var ErrInvalidOption = errors.New("invalid natsauth option")

// ErrNoHosts means no host was given: a configuration without hosts serves nobody.
var ErrNoHosts = errors.New("no hosts: give at least one host name")

// ErrDuplicateIdentity means two identities map to the same name (two host
// names with the same subject token, or a host named like the orchestrator or
// a consumer), so they would share a seed file and permissions.
var ErrDuplicateIdentity = errors.New("duplicate identity")

// ErrUnknownIdentity means a rotation named an identity that is not in the configuration.
var ErrUnknownIdentity = errors.New("unknown identity")

// ErrBadSeed means a seed file exists but does not hold a valid NKey user seed.
var ErrBadSeed = errors.New("bad NKey seed file")

// ErrInvalidConfig means the generated configuration was refused by
// nats-server's parser or does not hold the expected users.
var ErrInvalidConfig = errors.New("invalid nats-server configuration")
