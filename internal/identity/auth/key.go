// Package auth authenticates API requests with API keys and carries the
// authenticated principal through the request's context.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// keyBytes is the randomness in a generated key: 160 bits, written as 40 hex
// characters like the platform's own keys.
const keyBytes = 20

// prefixLen is how much of a key is kept in clear so users can tell keys apart.
const prefixLen = 6

// NewKey returns a new random API key with its display prefix and hash.
func NewKey() (key, prefix string, hash []byte) {
	b := make([]byte, keyBytes)
	rand.Read(b) // never fails on Linux; panics rather than return weak bytes
	key = hex.EncodeToString(b)
	return key, Prefix(key), Hash(key)
}

// Prefix returns the part of key shown to users.
func Prefix(key string) string {
	if len(key) <= prefixLen {
		return ""
	}
	return key[:prefixLen]
}

// Hash returns the stored form of key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}
