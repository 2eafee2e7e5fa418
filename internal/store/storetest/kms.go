package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signet/signet/internal/kms"
)

var kmsTests = map[string]func(*testing.T, Opener){
	"kms/keys":    testKMSKeys,
	"kms/aliases": testKMSAliases,
	"kms/grants":  testKMSGrants,
	"kms/destroy": testKMSDestroy,
}

// testKMSDestroy: DestroyKeys deletes exactly the keys pending deletion
// whose date has come, with their material, aliases and grants, durably.
func testKMSDestroy(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	due, later, enabled := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	for _, c := range []struct {
		id       string
		state    string
		deletion time.Time
	}{
		{due, kms.StatePendingDeletion, t0.Add(time.Hour)},
		{later, kms.StatePendingDeletion, t0.Add(2 * time.Hour)},
		{enabled, kms.StateEnabled, time.Time{}},
	} {
		k, m := kmsKey(c.id)
		k.State, k.DeletionDate = c.state, c.deletion
		if err := db.KMS.CreateKey(ctx, k, m); err != nil {
			t.Fatal(err)
		}
		if err := db.KMS.PutAlias(ctx, kms.Alias{Name: "alias/" + c.id, KeyID: c.id, CreatedAt: t0, UpdatedAt: t0}, false); err != nil {
			t.Fatal(err)
		}
		if err := db.KMS.PutGrant(ctx, kms.Grant{ID: "g-" + c.id, KeyID: c.id, Grantee: "arn:aws:iam::123456789012:user/a", Operations: []string{"Decrypt"}, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := db.KMS.DestroyKeys(ctx, t0.Add(time.Hour-time.Nanosecond)); err != nil || len(ids) != 0 {
		t.Fatalf("DestroyKeys before the date = %v, %v", ids, err)
	}
	if ids, err := db.KMS.DestroyKeys(ctx, t0.Add(time.Hour)); err != nil || len(ids) != 1 || ids[0] != due {
		t.Fatalf("DestroyKeys at the date = %v, %v; want [%s]", ids, err, due)
	}
	db = reopen()
	if _, err := db.KMS.Key(ctx, due); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("Key of a destroyed key = %v", err)
	}
	if _, err := db.KMS.KeyMaterial(ctx, due, 1); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("KeyMaterial of a destroyed key = %v", err)
	}
	if _, err := db.KMS.Alias(ctx, "alias/"+due); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("Alias of a destroyed key = %v", err)
	}
	if _, err := db.KMS.GrantKey(ctx, "g-"+due); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("a grant of a destroyed key = %v", err)
	}
	for _, id := range []string{later, enabled} {
		if _, err := db.KMS.Key(ctx, id); err != nil {
			t.Errorf("Key(%s) = %v", id, err)
		}
		if _, err := db.KMS.KeyMaterial(ctx, id, 1); err != nil {
			t.Errorf("KeyMaterial(%s) = %v", id, err)
		}
		if _, err := db.KMS.Alias(ctx, "alias/"+id); err != nil {
			t.Errorf("Alias of %s = %v", id, err)
		}
	}
	if ids, err := db.KMS.DestroyKeys(ctx, t0.Add(24*time.Hour)); err != nil || len(ids) != 1 || ids[0] != later {
		t.Errorf("DestroyKeys a day later = %v, %v; want [%s]", ids, err, later)
	}
}

func testKMSGrants(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	k, m := kmsKey("11111111-1111-4111-8111-111111111111")
	if err := db.KMS.CreateKey(ctx, k, m); err != nil {
		t.Fatal(err)
	}
	g := kms.Grant{ID: "g1", KeyID: k.ID, Grantee: "arn:aws:iam::123456789012:user/a", Operations: []string{"Decrypt"},
		ContextSubset: map[string]string{"app": "x"}, CreatedAt: t0}
	if err := db.KMS.PutGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	db = reopen()
	got, err := db.KMS.Grants(ctx, k.ID)
	if err != nil || len(got) != 1 || got[0].Grantee != g.Grantee || got[0].ContextSubset["app"] != "x" || got[0].ContextEquals != nil || got[0].Operations[0] != "Decrypt" {
		t.Fatalf("Grants = %+v, %v", got, err)
	}
	if key, err := db.KMS.GrantKey(ctx, "g1"); err != nil || key != k.ID {
		t.Errorf("GrantKey = %q, %v", key, err)
	}
	if err := db.KMS.DeleteGrant(ctx, k.ID, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := db.KMS.DeleteGrant(ctx, k.ID, "g1"); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("DeleteGrant twice = %v", err)
	}
	if _, err := db.KMS.GrantKey(ctx, "g1"); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("GrantKey of a deleted grant = %v", err)
	}
}

func kmsKey(id string) (kms.Key, kms.Material) {
	k := kms.Key{ID: id, Description: "d", Spec: kms.SpecSymmetric, Usage: kms.UsageEncrypt, State: kms.StateEnabled, Manager: kms.ManagerCustom,
		Policy: `{"Version":"2012-10-17"}`, CreatedAt: t0, Material: 1, RotationDays: 365, Tags: map[string]string{"team": "a"}}
	return k, kms.Material{KeyID: id, Version: 1, Sealed: []byte("sealed-1"), CreatedAt: t0}
}

func testKMSKeys(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	for _, id := range []string{"22222222-2222-4222-8222-222222222222", "11111111-1111-4111-8111-111111111111"} {
		k, m := kmsKey(id)
		if err := db.KMS.CreateKey(ctx, k, m); err != nil {
			t.Fatal(err)
		}
	}
	id := "11111111-1111-4111-8111-111111111111"
	// A failing update changes nothing, material included.
	boom := errors.New("boom")
	err := db.KMS.UpdateKey(ctx, id, func(k *kms.Key) (*kms.Material, error) {
		k.State = kms.StateDisabled
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateKey = %v", err)
	}
	if err := db.KMS.UpdateKey(ctx, id, func(k *kms.Key) (*kms.Material, error) {
		k.Material, k.RotationEnabled = 2, true
		return &kms.Material{KeyID: id, Version: 2, Sealed: []byte("sealed-2"), CreatedAt: t0}, nil
	}); err != nil {
		t.Fatal(err)
	}
	db = reopen()
	k, err := db.KMS.Key(ctx, id)
	if err != nil || k.State != kms.StateEnabled || k.Material != 2 || !k.RotationEnabled || k.Tags["team"] != "a" || !k.CreatedAt.Equal(t0) {
		t.Fatalf("Key = %+v, %v", k, err)
	}
	for v, want := range map[uint32]string{1: "sealed-1", 2: "sealed-2"} {
		m, err := db.KMS.KeyMaterial(ctx, id, v)
		if err != nil || !bytes.Equal(m.Sealed, []byte(want)) {
			t.Errorf("KeyMaterial(%d) = %q, %v", v, m.Sealed, err)
		}
	}
	if _, err := db.KMS.KeyMaterial(ctx, id, 3); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("KeyMaterial(3) = %v", err)
	}
	if _, err := db.KMS.Key(ctx, "33333333-3333-4333-8333-333333333333"); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("Key(unknown) = %v", err)
	}
	keys, err := db.KMS.ListKeys(ctx, "", 1)
	if err != nil || len(keys) != 1 || keys[0].ID != id {
		t.Fatalf("ListKeys page 1 = %v, %v", keys, err)
	}
	if keys, err = db.KMS.ListKeys(ctx, keys[0].ID, 10); err != nil || len(keys) != 1 || keys[0].ID != "22222222-2222-4222-8222-222222222222" {
		t.Fatalf("ListKeys page 2 = %v, %v", keys, err)
	}
}

func testKMSAliases(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	k, m := kmsKey("11111111-1111-4111-8111-111111111111")
	if err := db.KMS.CreateKey(ctx, k, m); err != nil {
		t.Fatal(err)
	}
	a := kms.Alias{Name: "alias/app", KeyID: k.ID, CreatedAt: t0, UpdatedAt: t0}
	if err := db.KMS.PutAlias(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	if err := db.KMS.PutAlias(ctx, a, false); !errors.Is(err, kms.ErrAlreadyExists) {
		t.Errorf("PutAlias twice = %v", err)
	}
	if err := db.KMS.PutAlias(ctx, kms.Alias{Name: "alias/none", KeyID: k.ID}, true); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("replace a missing alias = %v", err)
	}
	if got, err := db.KMS.Alias(ctx, "alias/app"); err != nil || got.KeyID != k.ID {
		t.Errorf("Alias = %+v, %v", got, err)
	}
	if list, err := db.KMS.ListAliases(ctx, k.ID); err != nil || len(list) != 1 {
		t.Errorf("ListAliases = %v, %v", list, err)
	}
	if err := db.KMS.DeleteAlias(ctx, "alias/app"); err != nil {
		t.Fatal(err)
	}
	if err := db.KMS.DeleteAlias(ctx, "alias/app"); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("DeleteAlias twice = %v", err)
	}
}
