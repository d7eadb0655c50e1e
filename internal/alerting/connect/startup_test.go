package connect

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestCheckKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, _ := secretbox.New(bytes.Repeat([]byte{3}, secretbox.KeySize))
	otherBox, _ := secretbox.New(bytes.Repeat([]byte{4}, secretbox.KeySize))

	t.Run("nothing stored", func(t *testing.T) {
		s := storagetest.New(t)
		for name, b := range map[string]*secretbox.Box{"no key": nil, "a key": box} {
			t.Run(name, func(t *testing.T) {
				if err := CheckKey(ctx, s, b); err != nil {
					t.Errorf("CheckKey(%s) on an empty database: %v, want nil", name, err)
				}
			})
		}
	})
	t.Run("Slack app stored", func(t *testing.T) {
		s := storagetest.New(t)
		svc := New(Config{Store: s, Secrets: box})
		if _, err := svc.SetSlackApp(ctx, entity.User{ID: 1, Username: "admin", InstanceAdmin: true}, "1.2", "s3cr3t-client"); err != nil {
			t.Fatal(err)
		}
		if err := CheckKey(ctx, s, nil); err == nil || !strings.Contains(err.Error(), "AUDITGRAPH_SECRET_KEY") {
			t.Errorf("CheckKey(no key) = %v, want an error naming AUDITGRAPH_SECRET_KEY", err)
		}
		if err := CheckKey(ctx, s, otherBox); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Errorf("CheckKey(another key) = %v, want a wrong-key error", err)
		}
		if err := CheckKey(ctx, s, box); err != nil {
			t.Errorf("CheckKey(the key) = %v, want nil", err)
		}
	})
	t.Run("integration stored", func(t *testing.T) {
		s := storagetest.New(t)
		err := s.InTx(ctx, func(tx *storage.Tx) error {
			org, err := tx.CreateOrganization(ctx, "acme", "enterprise")
			if err != nil {
				return err
			}
			_, err = tx.CreateIntegration(ctx, entity.Integration{OrgID: org.ID, Name: "hook", Kind: "slack", URLSealed: box.Seal("integration-url", []byte("https://x"))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckKey(ctx, s, nil); err == nil || !strings.Contains(err.Error(), "sealed secrets") {
			t.Errorf("CheckKey(no key) with an integration = %v, want a refusal", err)
		}
	})
}
