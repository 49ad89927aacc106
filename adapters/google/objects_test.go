package google_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/pass"
)

const issuer = "3388000000012345678"

type passes map[string]query.Pass

func (ps passes) Get(_ context.Context, tenantID, passID string, _ int) (query.Pass, error) {
	p, ok := ps[tenantID+"/"+passID]
	if !ok {
		return query.Pass{}, pass.ErrNotFound
	}
	return p, nil
}

type fixture struct {
	settings *google.SettingsStore
	classes  *google.Classes
	objects  *google.Objects
	passes   passes
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := sqldbtest.New(t)
	store, err := credentials.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{passes: passes{}}
	if f.settings, err = google.NewSettingsStore(store); err != nil {
		t.Fatal(err)
	}
	if f.classes, err = google.NewClasses(db); err != nil {
		t.Fatal(err)
	}
	if f.objects, err = google.NewObjects(f.settings, f.classes, f.passes); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestObjects_build(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := contracttest.Context(t)
	f.passes["acme/p 1"] = query.Pass{PassID: "p 1", PassType: "loyalty", Email: "ann@example.com",
		Data: map[string]string{"points": "10", "offer": "2 for 1"}}

	if _, err := f.objects.Build(ctx, "acme", "p 1"); !errors.Is(err, push.ErrNotSetUp) {
		t.Errorf("no settings: Build = %v, want push.ErrNotSetUp", err)
	}
	key := googletest.NewKeyFile(t)
	info, err := f.settings.Put(ctx, "acme", issuer, key.JSON, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info != (googlepass.SettingsInfo{IssuerID: issuer, ServiceAccountEmail: key.ClientEmail, Rate: google.DefaultRate}) {
		t.Errorf("Put = %+v", info)
	}
	if _, err := f.objects.Build(ctx, "acme", "p 1"); !errors.Is(err, push.ErrNotSetUp) {
		t.Errorf("no class: Build = %v, want push.ErrNotSetUp", err)
	}
	if _, err := f.objects.Build(ctx, "acme", "nope"); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("unknown pass: Build = %v, want pass.ErrNotFound", err)
	}

	put := func(objectType, template string) {
		t.Helper()
		if err := f.classes.Put(ctx, "acme", "loyalty", googlepass.Class{ObjectType: objectType,
			ClassID: issuer + ".acme_loyalty", Template: []byte(template)}); err != nil {
			t.Fatal(err)
		}
	}
	put("generic", `{"cardTitle":{"defaultValue":{"language":"en","value":"Acme"}}}`)
	put("loyalty", `{"state":"ACTIVE","loyaltyPoints":{"balance":{"string":"{{points}}"}}}`)
	obj, err := f.objects.Build(ctx, "acme", "p 1")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Type != "loyalty" || obj.ID != issuer+".acme_p_1" || obj.Body["id"] != obj.ID || obj.Body["classId"] != issuer+".acme_loyalty" {
		t.Errorf("object %+v", obj)
	}
	if obj.Body["loyaltyPoints"].(map[string]any)["balance"].(map[string]any)["string"] != "10" {
		t.Errorf("points: %v", obj.Body["loyaltyPoints"])
	}
	modules := obj.Body["textModulesData"].([]any)
	if len(modules) != 1 || modules[0].(map[string]any)["body"] != "2 for 1" {
		t.Errorf("text modules %v", modules)
	}
	if obj.Account.ServiceAccount.ClientEmail != key.ClientEmail {
		t.Errorf("account %v", obj.Account.ServiceAccount)
	}

	// Another tenant's settings and classes are not this one's.
	f.passes["other/p 1"] = f.passes["acme/p 1"]
	if _, err := f.objects.Build(ctx, "other", "p 1"); !errors.Is(err, push.ErrNotSetUp) {
		t.Errorf("other tenant: Build = %v, want push.ErrNotSetUp", err)
	}
}

// Classes keeps the classes it read for a moment; a class put through it replaces the one it kept at once, so a
// template changed through the admin API reaches the next push and the next save link.
func TestObjects_classPutIsUsedAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := contracttest.Context(t)
	f.passes["acme/p 1"] = query.Pass{PassID: "p 1", PassType: "loyalty", Data: map[string]string{"points": "10"}}
	if _, err := f.settings.Put(ctx, "acme", issuer, googletest.NewKeyFile(t).JSON, 0); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"ACTIVE", "INACTIVE", "EXPIRED"} {
		if err := f.classes.Put(ctx, "acme", "loyalty", googlepass.Class{ObjectType: "loyalty",
			ClassID: issuer + ".acme_loyalty", Template: []byte(`{"state":"` + state + `"}`)}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second Build reads the class kept
			obj, err := f.objects.Build(ctx, "acme", "p 1")
			if err != nil {
				t.Fatal(err)
			}
			if obj.Body["state"] != state {
				t.Errorf("after the class with state %s was put: object state %v", state, obj.Body["state"])
			}
		}
	}
}

func TestSettingsStore_refusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := contracttest.Context(t)
	good := googletest.NewKeyFile(t)
	for name, c := range map[string]struct {
		issuer string
		file   googletest.KeyFile
		rate   float64
	}{
		"EC key":          {issuer, googletest.NewKeyFile(t, googletest.ECKey(t)), 0},
		"no client_email": {issuer, googletest.NewKeyFile(t, googletest.Without("client_email")), 0},
		"no token_uri":    {issuer, googletest.NewKeyFile(t, googletest.Without("token_uri")), 0},
		"issuer":          {"acme", good, 0},
		"rate":            {issuer, good, -1},
	} {
		_, err := f.settings.Put(ctx, "acme", c.issuer, c.file.JSON, c.rate)
		if !errors.Is(err, googlepass.ErrInvalidSettings) {
			t.Errorf("%s: Put = %v, want ErrInvalidSettings", name, err)
		}
		if err != nil && len(c.file.PrivateKeyPEM) > 0 && contains(err.Error(), c.file.PrivateKeyPEM[40:80]) {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	if _, err := f.settings.Info(ctx, "acme"); !errors.Is(err, push.ErrNotSetUp) {
		t.Errorf("after refusals: Info = %v, want push.ErrNotSetUp", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
