package storage_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestIntegrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
	create := func(in entity.Integration) (entity.Integration, error) {
		var out entity.Integration
		err := s.InTx(ctx, func(tx *storage.Tx) error {
			var err error
			out, err = tx.CreateIntegration(ctx, in)
			return err
		})
		return out, err
	}
	slack, err := create(entity.Integration{OrgID: org, Name: "#alerts", Kind: "slack", URLSealed: []byte{1, 2},
		SlackChannel: "#alerts", SlackChannelID: "C1", SlackTeam: "Acme", SlackTeamID: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	if slack.Status != entity.IntegrationOK || slack.SlackChannelID != "C1" || !bytes.Equal(slack.URLSealed, []byte{1, 2}) {
		t.Errorf("created %+v", slack)
	}
	if _, err := create(entity.Integration{OrgID: org, Name: "#alerts", Kind: "slack", URLSealed: []byte{3}}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second %q: err = %v, want ErrConflict", "#alerts", err)
	}
	if _, err := create(entity.Integration{OrgID: org, Name: "hook", Kind: "webhook", URLSealed: []byte{3}}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("webhook without signing secret: err = %v, want ErrInvalid", err)
	}
	hook, err := create(entity.Integration{OrgID: org, Name: "hook", Kind: "webhook", URLSealed: []byte{3}, SigningSecretSealed: []byte{4}})
	if err != nil {
		t.Fatal(err)
	}
	setStatus := func(id int64, status string) error {
		return s.InTx(ctx, func(tx *storage.Tx) error { return tx.SetIntegrationStatus(ctx, id, status, "because") })
	}
	if err := setStatus(slack.ID, entity.IntegrationDisconnected); err != nil {
		t.Fatal(err)
	}
	if err := setStatus(slack.ID, entity.IntegrationOK); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("reviving a disconnected integration: err = %v, want ErrNotFound", err)
	}
	if _, err := create(entity.Integration{OrgID: org, Name: "#alerts", Kind: "slack", URLSealed: []byte{5}}); err != nil {
		t.Errorf("reusing a disconnected integration's name: %v", err)
	}
	if err := setStatus(hook.ID, "broken"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("unknown status: err = %v, want ErrInvalid", err)
	}
	all, err := s.OrgIntegrations(ctx, org, 0, 10)
	if err != nil || len(all) != 3 || all[0].Status != entity.IntegrationDisconnected || all[0].StatusReason != "because" {
		t.Errorf("OrgIntegrations = %+v, %v", all, err)
	}
	if rest, err := s.OrgIntegrations(ctx, org, all[0].ID, 1); err != nil || len(rest) != 1 || rest[0].ID != all[1].ID {
		t.Errorf("OrgIntegrations(after %d, 1) = %+v, %v", all[0].ID, rest, err)
	}
	if n, err := s.CountOrgIntegrations(ctx, org); n != 3 || err != nil {
		t.Errorf("CountOrgIntegrations = %d, %v, want 3", n, err)
	}
	if _, err := s.Integration(ctx, 999999); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Integration(missing) err = %v, want ErrNotFound", err)
	}
}

func TestOrganizationWithMembership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	orgID, userID := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
	want, err := s.Membership(ctx, orgID, userID)
	if err != nil {
		t.Fatal(err)
	}
	org, m, err := s.OrganizationWithMembership(ctx, "acme", want.UserID)
	if err != nil || org.ID != orgID || m == nil {
		t.Fatalf("OrganizationWithMembership(acme, member) = %+v, %+v, %v", org, m, err)
	}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("membership = %+v, want %+v (as Membership reads it)", *m, want)
	}
	if org, m, err := s.OrganizationWithMembership(ctx, "acme", 999999); err != nil || org.ID != orgID || m != nil {
		t.Errorf("OrganizationWithMembership(acme, stranger) = %+v, %+v, %v, want the organization and no membership", org, m, err)
	}
	if _, _, err := s.OrganizationWithMembership(ctx, "nope", want.UserID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("OrganizationWithMembership(missing) err = %v, want ErrNotFound", err)
	}
}
