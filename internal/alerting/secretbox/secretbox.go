// Package secretbox seals the secrets auditgraph must keep and use again
// (the Slack app's client secret, incoming webhook URLs, webhook signing
// secrets) with AES-256-GCM under one instance key, so that a database dump or
// backup holds none of them in the clear.
//
// A sealed value is: version byte 1, a 12-byte random nonce, then the GCM
// ciphertext and tag. The caller's label is the additional authenticated data,
// so a value sealed for one purpose does not open as another.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the length of an instance key in bytes.
const KeySize = 32

const version = 1

// ErrNoKey is returned by Load when neither source holds a key.
var ErrNoKey = errors.New("secretbox: no key: set AUDITGRAPH_SECRET_KEY or --secret-key-file " +
	"(32 random bytes, base64 or hex; e.g. `openssl rand -base64 32`)")

// ErrOpen means a sealed value was damaged, sealed under another key, or
// sealed for another label. It never holds the value.
var ErrOpen = errors.New("secretbox: cannot open sealed value (wrong key, label or damaged data)")

// Box seals and opens values under one key.
type Box struct {
	aead cipher.AEAD
	key  []byte
}

// New returns a Box for a KeySize-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// ParseKey decodes a key written as standard or URL-safe base64 or as hex.
// Errors never repeat the text, which may be a real key with a typo.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("secretbox: key is not %d bytes in base64 or hex (%d characters given)", KeySize, len(s))
}

// Load returns the Box for the key in env (the value of
// AUDITGRAPH_SECRET_KEY) or else in the file at path; ErrNoKey when both are
// empty. A key file must not be readable by group or others.
func Load(env, path string) (*Box, error) {
	var text string
	switch {
	case env != "":
		text = env
	case path != "":
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("secretbox: key file %s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key file: %w", err)
		}
		text = string(b)
	default:
		return nil, ErrNoKey
	}
	key, err := ParseKey(text)
	if err != nil {
		return nil, err
	}
	return New(key)
}

// Seal encrypts plaintext for label.
func (b *Box) Seal(label string, plaintext []byte) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		panic("secretbox: reading random nonce: " + err.Error())
	}
	return b.aead.Seal(out, out[1:], plaintext, []byte(label))
}

// Open decrypts a value sealed for label.
func (b *Box) Open(label string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	p, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(label))
	if err != nil {
		return nil, ErrOpen
	}
	return p, nil
}

// Derive returns a 32-byte key for another purpose (such as signing OAuth
// state), computed from the instance key so that no second key is needed and
// the instance key itself is never used twice.
func (b *Box) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("auditgraph secretbox derive\x00" + purpose))
	return m.Sum(nil)
}
