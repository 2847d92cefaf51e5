package natsauth

import (
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"
)

// Validate parses the configuration at path with nats-server's own parser
// (server.ProcessConfigFile, what `nats-server -t` runs) and checks it holds
// exactly the given users, each with permissions, all in account VMFLEET.
// Pass nil users to check only that it parses and every NKey user has
// permissions and is in that account.
func Validate(path string, users []User) error {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, path, err)
	}
	got := map[string]*server.NkeyUser{}
	for _, u := range opts.Nkeys {
		if u.Permissions == nil {
			return fmt.Errorf("%w: %s: NKey user %s has no permissions", ErrInvalidConfig, path, u.Nkey)
		}
		if u.Account == nil || u.Account.Name != AccountName {
			return fmt.Errorf("%w: %s: NKey user %s is not in account %s, whose JetStream limits bound vmfleet's store", ErrInvalidConfig, path, u.Nkey, AccountName)
		}
		got[u.Nkey] = u
	}
	if len(opts.Users) > 0 {
		return fmt.Errorf("%w: %s: %d user/password users; vmfleet generates NKey users only", ErrInvalidConfig, path, len(opts.Users))
	}
	if users == nil {
		return nil
	}
	if len(got) != len(users) {
		return fmt.Errorf("%w: %s: %d NKey users, want %d", ErrInvalidConfig, path, len(got), len(users))
	}
	for _, u := range users {
		g, ok := got[u.PublicKey]
		if !ok {
			return fmt.Errorf("%w: %s: user %s (%s) missing", ErrInvalidConfig, path, u.PublicKey, u.Comment)
		}
		if err := samePermissions(g.Permissions, u.Permissions); err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrInvalidConfig, path, u.Comment, err)
		}
	}
	return nil
}

// samePermissions checks that the parsed permissions are the ones rendered.
func samePermissions(got *server.Permissions, want Permissions) error {
	var pub, sub []string
	if got.Publish != nil {
		pub = got.Publish.Allow
		if len(got.Publish.Deny) > 0 {
			return fmt.Errorf("unexpected publish deny list %v", got.Publish.Deny)
		}
	}
	if got.Subscribe != nil {
		sub = got.Subscribe.Allow
		if len(got.Subscribe.Deny) > 0 {
			return fmt.Errorf("unexpected subscribe deny list %v", got.Subscribe.Deny)
		}
	}
	switch {
	case !slices.Equal(pub, want.Publish):
		return fmt.Errorf("publish allow parsed as %v, want %v", pub, want.Publish)
	case !slices.Equal(sub, want.Subscribe):
		return fmt.Errorf("subscribe allow parsed as %v, want %v", sub, want.Subscribe)
	case (got.Response != nil) != want.Responses:
		return fmt.Errorf("allow_responses parsed as %v, want %v", got.Response != nil, want.Responses)
	}
	return nil
}
