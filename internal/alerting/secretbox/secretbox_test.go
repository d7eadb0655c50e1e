package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
)

func testKey() []byte { return bytes.Repeat([]byte{7}, secretbox.KeySize) }

func TestSealOpen(t *testing.T) {
	b, err := secretbox.New(testKey())
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("https://hooks.slack.com/services/T000/B000/XXXXSECRET")
	s1, s2 := b.Seal("integration-url", secret), b.Seal("integration-url", secret)
	if bytes.Equal(s1, s2) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if bytes.Contains(s1, secret) || bytes.Contains(s1, []byte("SECRET")) {
		t.Error("sealed value contains the plaintext")
	}
	got, err := b.Open("integration-url", s1)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v, want %q", got, err, secret)
	}
	if _, err := b.Open("slack-client-secret", s1); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open with another label: err = %v, want ErrOpen", err)
	}
	other, _ := secretbox.New(bytes.Repeat([]byte{8}, secretbox.KeySize))
	if _, err := other.Open("integration-url", s1); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open with another key: err = %v, want ErrOpen", err)
	}
	damaged := append([]byte(nil), s1...)
	damaged[len(damaged)-1] ^= 1
	for name, v := range map[string][]byte{"damaged": damaged, "empty": nil, "short": s1[:10], "version": append([]byte{2}, s1[1:]...)} {
		t.Run(name, func(t *testing.T) {
			if _, err := b.Open("integration-url", v); !errors.Is(err, secretbox.ErrOpen) {
				t.Errorf("Open(%s) err = %v, want ErrOpen", name, err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	k := testKey()
	for _, s := range []string{hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k), " " + base64.StdEncoding.EncodeToString(k) + "\n"} {
		got, err := secretbox.ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v, want %x", s, got, err, k)
		}
	}
	bad := "c2VjcmV0LXRvby1zaG9ydA==" // base64 of 16 bytes
	_, err := secretbox.ParseKey(bad)
	if err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("ParseKey(short) err = %v, want an error without the text", err)
	}
}

func TestLoad(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(testKey())
	if _, err := secretbox.Load("", ""); !errors.Is(err, secretbox.ErrNoKey) {
		t.Errorf("Load(none) err = %v, want ErrNoKey", err)
	}
	if _, err := secretbox.Load(k, ""); err != nil {
		t.Errorf("Load(env) err = %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte(k+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secretbox.Load("", path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Load(world-readable file) err = %v, want a chmod hint", err)
	}
	os.Chmod(path, 0o600)
	b, err := secretbox.Load("", path)
	if err != nil {
		t.Fatalf("Load(file) err = %v", err)
	}
	if d1, d2 := b.Derive("oauth-state"), b.Derive("other"); bytes.Equal(d1, d2) || len(d1) != 32 || bytes.Equal(d1, testKey()) {
		t.Errorf("Derive gave equal, short or unchanged keys")
	}
}
