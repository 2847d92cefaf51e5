package natsauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// SeedFileMode is the mode of every secret file natsauth writes.
const SeedFileMode fs.FileMode = 0o600

// LoadOrCreateSeed returns the public key of the NKey user seed in path,
// creating the file (0600, atomically) with a fresh seed when it does not
// exist, or replacing it when rotate is true. created reports that a new seed
// was written. comment is written above the seed as a "# " line.
func LoadOrCreateSeed(path, comment string, rotate bool) (pub string, created bool, err error) {
	if !rotate {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			pub, err := publicKeyOf(data)
			if err != nil {
				return "", false, fmt.Errorf("%w %s: %v (delete it or rotate it to make a new one)", ErrBadSeed, path, err)
			}
			return pub, false, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", false, fmt.Errorf("read seed file: %w", err)
		}
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", false, fmt.Errorf("create NKey user: %w", err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", false, fmt.Errorf("NKey seed: %w", err)
	}
	if pub, err = kp.PublicKey(); err != nil {
		return "", false, fmt.Errorf("NKey public key: %w", err)
	}
	body := fmt.Sprintf("# %s\n# NKey seed: a secret. Keep this file 0600, readable only by its user.\n%s\n", oneLine(comment), seed)
	if err := WriteFileAtomic(path, []byte(body), SeedFileMode); err != nil {
		return "", false, err
	}
	return pub, true, nil
}

// publicKeyOf parses an NKey seed file's contents and returns the public key.
func publicKeyOf(data []byte) (string, error) {
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	return kp.PublicKey()
}

// PublicKey reads the NKey user seed file at path and returns its public key.
func PublicKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read seed file: %w", err)
	}
	pub, err := publicKeyOf(data)
	if err != nil {
		return "", fmt.Errorf("%w %s: %v", ErrBadSeed, path, err)
	}
	return pub, nil
}

// loadOrCreatePassword returns the random password kept in path, creating it
// (0600) when missing or rotate is true.
func loadOrCreatePassword(path string, rotate bool) (string, bool, error) {
	if !rotate {
		data, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(data)) != "" {
			return strings.TrimSpace(string(data)), false, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("read password file: %w", err)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("random password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := WriteFileAtomic(path, []byte(pw+"\n"), SeedFileMode); err != nil {
		return "", false, err
	}
	return pw, true, nil
}

// WriteFileAtomic writes data to path with mode perm: it writes a temporary
// file in the same directory (created with perm, so a secret is never
// readable by others, not even for a moment), syncs it and renames it over
// path. Readers see the old file or the new one, never a part.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// oneLine keeps a comment on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
