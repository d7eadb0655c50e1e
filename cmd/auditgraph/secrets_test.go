package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.New(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, secretbox.KeySize))

	box, err := loadSecrets(ctx, st, log, "", "")
	if err != nil || box != nil {
		t.Fatalf("loadSecrets(no key, nothing stored) = %v, %v; want nil, nil", box, err)
	}
	if !strings.Contains(logs.String(), "no instance key") {
		t.Errorf("no warning logged without a key: %q", logs.String())
	}
	if _, err := loadSecrets(ctx, st, log, "not-a-key", ""); err == nil || strings.Contains(err.Error(), "not-a-key") {
		t.Errorf("loadSecrets(bad key) = %v, want an error without the text", err)
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	box, err = loadSecrets(ctx, st, log, "", path)
	if err != nil || box == nil {
		t.Fatalf("loadSecrets(key file) = %v, %v", box, err)
	}
	admin := entity.User{ID: 1, Username: "admin", InstanceAdmin: true}
	if _, err := connect.New(connect.Config{Store: st, Secrets: box}).SetSlackApp(ctx, admin, "1.2", "client-secret-x"); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecrets(ctx, st, log, "", ""); err == nil || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Errorf("loadSecrets(no key, Slack app stored) = %v, want a startup error naming --secret-key-file", err)
	}
	if _, err := loadSecrets(ctx, st, log, key, ""); err != nil {
		t.Errorf("loadSecrets(AUDITGRAPH_SECRET_KEY) = %v", err)
	}
	if strings.Contains(logs.String(), "client-secret-x") || strings.Contains(logs.String(), key) {
		t.Errorf("log holds a secret: %q", logs.String())
	}
}
