// Package notary signs checkpoints of the audit-log hash chain: it holds the
// Ed25519 signing key, records each checkpoint in the database and returns
// the JSON a bucket keeps, and runs the periodic checkpoint job.
package notary

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFileName is the generated key's file under the data folder.
const KeyFileName = "signing-key"

// KeyConfig says where the signing key comes from, first match wins: the
// file, then the environment value, then KeyFileName under DataDir.
type KeyConfig struct {
	File    string // --signing-key-file
	Env     string // the value of AUDITGRAPH_SIGNING_KEY
	DataDir string
	// Generate creates the data folder's key when there is none.
	Generate bool
}

// Key is a loaded signing key and where it came from.
type Key struct {
	Private ed25519.PrivateKey
	// Source names where the key was found (a path or the variable), never
	// the key itself.
	Source string
	// Generated is set when the key was created just now.
	Generated bool
}

// Public returns the key's public half.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// ErrNoKey means no signing key is configured and none was generated.
var ErrNoKey = errors.New("no signing key")

// LoadKey finds the signing key as cfg says.
func LoadKey(cfg KeyConfig) (Key, error) {
	if cfg.File != "" {
		b, err := os.ReadFile(cfg.File)
		if err != nil {
			return Key{}, fmt.Errorf("signing key: %w", err)
		}
		k, err := ParseSeed(string(b))
		if err != nil {
			return Key{}, fmt.Errorf("signing key file %s: %w", cfg.File, err)
		}
		return Key{Private: k, Source: cfg.File}, nil
	}
	if cfg.Env != "" {
		k, err := ParseSeed(cfg.Env)
		if err != nil {
			return Key{}, fmt.Errorf("AUDITGRAPH_SIGNING_KEY: %w", err)
		}
		return Key{Private: k, Source: "AUDITGRAPH_SIGNING_KEY"}, nil
	}
	if cfg.DataDir == "" {
		return Key{}, ErrNoKey
	}
	path := filepath.Join(cfg.DataDir, KeyFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseSeed(string(b))
		if err != nil {
			return Key{}, fmt.Errorf("signing key file %s: %w", path, err)
		}
		return Key{Private: k, Source: path}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, fmt.Errorf("signing key: %w", err)
	}
	if !cfg.Generate {
		return Key{}, fmt.Errorf("%w: %s does not exist (set --signing-key-file or AUDITGRAPH_SIGNING_KEY)", ErrNoKey, path)
	}
	seed, err := GenerateSeed()
	if err != nil {
		return Key{}, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return Key{}, fmt.Errorf("signing key: %w", err)
	}
	// O_EXCL: a second process starting at the same moment must not replace
	// the key the first one is already signing with.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(KeyConfig{DataDir: cfg.DataDir})
	}
	if err != nil {
		return Key{}, fmt.Errorf("signing key: %w", err)
	}
	if _, err := f.WriteString(seed + "\n"); err != nil {
		f.Close()
		return Key{}, fmt.Errorf("signing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return Key{}, fmt.Errorf("signing key: %w", err)
	}
	k, err := ParseSeed(seed)
	return Key{Private: k, Source: path, Generated: true}, err
}

// GenerateSeed returns a new random key in the file format: the 32-byte
// Ed25519 seed in standard base64.
func GenerateSeed() (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(seed), nil
}

// ParseSeed reads a key in the file format; surrounding white space is
// ignored. The error never holds the key.
func ParseSeed(s string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("want the %d-byte Ed25519 seed in standard base64 (auditgraph keys generate makes one)", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads a public key as `auditgraph keys show` prints it:
// the 32 bytes in standard base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %q: want %d bytes in standard base64", s, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
