package google_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/googlepass"
)

func TestSaveLinks_signedWithTheServiceAccountAndCarryTheObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := contracttest.Context(t)
	key := googletest.NewKeyFile(t)
	if _, err := f.settings.Put(ctx, "acme", issuer, key.JSON, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.classes.Put(ctx, "acme", "offer", googlepass.Class{ObjectType: "offer", ClassID: issuer + ".spring",
		Template: []byte(`{"state":"ACTIVE","title":"{{offer}}"}`)}); err != nil {
		t.Fatal(err)
	}
	f.passes["acme/p-1"] = query.Pass{PassID: "p-1", PassType: "offer", Data: map[string]string{"offer": "2 for 1", "code": "X1"}}
	links, err := google.NewSaveLinks(f.objects, "https://passpush.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	link, err := links.SaveLink(ctx, "acme", "p-1")
	if err != nil {
		t.Fatal(err)
	}
	signed, ok := strings.CutPrefix(link, "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("link %s", link)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return &key.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(key.ClientEmail), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("the link's JWT does not verify with the service account's public key: %v", err)
	}
	if claims["typ"] != "savetowallet" {
		t.Errorf("typ %v", claims["typ"])
	}
	if o, _ := claims["origins"].([]any); len(o) != 1 || o[0] != "https://passpush.example.com" {
		t.Errorf("origins %v", claims["origins"])
	}
	if iat, _ := claims.GetIssuedAt(); iat == nil || iat.Before(before) {
		t.Errorf("iat %v", iat)
	}
	objects, _ := claims["payload"].(map[string]any)["offerObjects"].([]any)
	if len(objects) != 1 {
		t.Fatalf("payload %v", claims["payload"])
	}
	obj := objects[0].(map[string]any)
	if obj["id"] != issuer+".acme_p-1" || obj["classId"] != issuer+".spring" || obj["title"] != "2 for 1" {
		t.Errorf("object %v", obj)
	}
	if m := obj["textModulesData"].([]any); len(m) != 1 || m[0].(map[string]any)["body"] != "X1" {
		t.Errorf("text modules %v", m)
	}
	if strings.Contains(link, key.PrivateKeyPEM[40:80]) {
		t.Error("the link carries the key")
	}

	// Without a class for the pass's type, the query makes no link and no error.
	f.passes["acme/p-2"] = query.Pass{PassID: "p-2", PassType: "loyalty"}
	if link, err := query.NewGoogleSaveLinkHandler(links).Handle(ctx, query.GoogleSaveLink{TenantID: "acme", PassID: "p-2"}); link != "" || err != nil {
		t.Errorf("no class: link %q, %v", link, err)
	}
}
