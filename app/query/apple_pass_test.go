package query_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/pass"
)

const testPassTypeID = "pass.com.example.test"

type fakeSources map[string]query.ApplePassSource

func (f fakeSources) ApplePassSource(_ context.Context, _, passID string) (query.ApplePassSource, error) {
	src, ok := f[passID]
	if !ok {
		return query.ApplePassSource{}, pass.ErrNotFound
	}
	return src, nil
}

type fakeTemplates struct{ t query.AppleTemplate }

func (f fakeTemplates) Latest(context.Context, string, string) (query.AppleTemplate, error) {
	return f.t, nil
}
func (f fakeTemplates) Version(context.Context, string, string, int) (query.AppleTemplate, error) {
	return f.t, nil
}

type countingSigner struct{ signs atomic.Int32 }

func (s *countingSigner) PassTypeID() string  { return testPassTypeID }
func (s *countingSigner) TeamID() string      { return "TEAM" }
func (s *countingSigner) Fingerprint() string { return "f" }
func (s *countingSigner) Sign(_ applepass.Template, passJSON []byte) ([]byte, error) {
	s.signs.Add(1)
	return passJSON, nil
}
func (s *countingSigner) Signer(context.Context, string, string) (query.AppleSigner, error) {
	return s, nil
}

type fixedTokens struct{}

func (fixedTokens) Token(context.Context, string, string) (string, error) { return "minted", nil }

func newApplePassHandler(t *testing.T, updatedAt time.Time) (query.ApplePassHandler, *countingSigner) {
	t.Helper()
	tpl, err := applepass.ParseTemplate(map[string][]byte{
		"pass.json": []byte(`{"formatVersion":1,"passTypeIdentifier":"` + testPassTypeID + `","teamIdentifier":"T","organizationName":"O","description":"D","storeCard":{}}`),
		"icon.png":  []byte("icon"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sources := fakeSources{"p-1": {
		Pass:         query.Pass{PassID: "p-1", PassType: "loyalty", Version: 2, UpdatedAt: updatedAt, Data: map[string]string{}},
		LastModified: updatedAt.Truncate(time.Second), Token: "the-token-of-p-1-is-at-least-32-characters", TemplateVersion: 1,
	}}
	signer := &countingSigner{}
	h := query.NewApplePassHandler(sources, fakeTemplates{query.AppleTemplate{Version: 1, Template: tpl}}, signer, fixedTokens{}, "https://passpush.example")
	return h, signer
}

func TestApplePass_aHolderWithAWrongTokenOrPassTypeGetsNothingSigned(t *testing.T) {
	h, signer := newApplePassHandler(t, time.Now())
	for name, holder := range map[string]query.ApplePassHolder{
		"wrong token":     {TenantID: "acme", PassID: "p-1", PassTypeID: testPassTypeID, Token: "not-the-token-of-p-1-but-as-long-as-it"},
		"other pass type": {TenantID: "acme", PassID: "p-1", PassTypeID: "pass.com.example.other", Token: "the-token-of-p-1-is-at-least-32-characters"},
		"unknown pass":    {TenantID: "acme", PassID: "p-2", PassTypeID: testPassTypeID, Token: "the-token-of-p-1-is-at-least-32-characters"},
	} {
		_, err := h.Handle(context.Background(), query.ApplePass{TenantID: "acme", PassID: holder.PassID, Holder: &holder})
		if !errors.Is(err, query.ErrNotPassHolder) {
			t.Errorf("%s: %v, want ErrNotPassHolder", name, err)
		}
	}
	if n := signer.signs.Load(); n != 0 {
		t.Errorf("signed %d passes for callers that do not hold them", n)
	}
	holder := query.ApplePassHolder{TenantID: "acme", PassID: "p-1", PassTypeID: testPassTypeID, Token: "the-token-of-p-1-is-at-least-32-characters"}
	f, err := h.Handle(context.Background(), query.ApplePass{TenantID: "acme", PassID: "p-1", Holder: &holder})
	if err != nil || len(f.PKPass) == 0 || signer.signs.Load() != 1 {
		t.Fatalf("the holder: %v, %d bytes, %d signatures", err, len(f.PKPass), signer.signs.Load())
	}
}

func TestApplePass_notModifiedSinceTheCallersCopyIsNotSigned(t *testing.T) {
	updatedAt := time.Date(2026, 12, 3, 10, 0, 0, 500_000_000, time.UTC)
	h, signer := newApplePassHandler(t, updatedAt)
	want := time.Date(2026, 12, 3, 10, 0, 1, 0, time.UTC) // rounded up to the second
	f, err := h.Handle(context.Background(), query.ApplePass{TenantID: "acme", PassID: "p-1", IfModifiedSince: want})
	if err != nil || !f.NotModified || len(f.PKPass) != 0 || !f.LastModified.Equal(want) {
		t.Fatalf("If-Modified-Since the pass's Last-Modified: %+v, %v", f, err)
	}
	if n := signer.signs.Load(); n != 0 {
		t.Errorf("signed %d times to answer not modified", n)
	}
	f, err = h.Handle(context.Background(), query.ApplePass{TenantID: "acme", PassID: "p-1", IfModifiedSince: want.Add(-time.Second)})
	if err != nil || f.NotModified || len(f.PKPass) == 0 || signer.signs.Load() != 1 {
		t.Fatalf("an older copy: %+v, %v, %d signatures", f.NotModified, err, signer.signs.Load())
	}
}

func TestApplePass_aPassSignedAheadIsServedWithoutSigningAgainUntilItChanges(t *testing.T) {
	tpl, err := applepass.ParseTemplate(map[string][]byte{
		"pass.json": []byte(`{"formatVersion":1,"passTypeIdentifier":"` + testPassTypeID + `","teamIdentifier":"T","organizationName":"O","description":"D","storeCard":{"primaryFields":[{"key":"points","label":"Points","value":0}]}}`),
		"icon.png":  []byte("icon"),
	})
	if err != nil {
		t.Fatal(err)
	}
	const token = "the-token-of-p-1-is-at-least-32-characters"
	at := time.Now()
	version := func(revision int, points string) query.ApplePassSource {
		return query.ApplePassSource{
			Pass: query.Pass{PassID: "p-1", PassType: "loyalty", Version: revision, UpdatedAt: at,
				Data: map[string]string{"points": points}},
			LastModified: at, Token: token, TemplateVersion: 1,
		}
	}
	sources := fakeSources{"p-1": version(2, "150")}
	signer := &countingSigner{}
	h := query.NewApplePassHandler(sources, fakeTemplates{query.AppleTemplate{Version: 1, Template: tpl}}, signer, fixedTokens{}, "https://passpush.example")
	ctx := context.Background()
	holder := query.ApplePassHolder{TenantID: "acme", PassID: "p-1", PassTypeID: testPassTypeID, Token: token}
	fetch := func() query.ApplePassFile {
		t.Helper()
		f, err := h.Handle(ctx, query.ApplePass{TenantID: "acme", PassID: "p-1", Holder: &holder})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	if err := h.SignAhead(ctx, "acme", "p-1"); err != nil || signer.signs.Load() != 1 {
		t.Fatalf("sign ahead: %v, %d signatures, want 1", err, signer.signs.Load())
	}
	if f := fetch(); f.Revision != 2 || !bytes.Contains(f.PKPass, []byte(`"value":150`)) || signer.signs.Load() != 1 {
		t.Fatalf("the fetch after the push: revision %d, %d signatures, pass %s; want revision 2 from the cache", f.Revision, signer.signs.Load(), f.PKPass)
	}

	// A second update: the read model moves on, and the fetch gets the new version, signed ahead or not.
	sources["p-1"] = version(3, "175")
	if f := fetch(); f.Revision != 3 || !bytes.Contains(f.PKPass, []byte(`"value":175`)) || signer.signs.Load() != 2 {
		t.Fatalf("the fetch after a second update: revision %d, %d signatures, pass %s; want revision 3 signed once more", f.Revision, signer.signs.Load(), f.PKPass)
	}
	sources["p-1"] = version(4, "200")
	if err := h.SignAhead(ctx, "acme", "p-1"); err != nil {
		t.Fatal(err)
	}
	if f := fetch(); f.Revision != 4 || !bytes.Contains(f.PKPass, []byte(`"value":200`)) || signer.signs.Load() != 3 {
		t.Fatalf("the fetch after a third update signed ahead: revision %d, %d signatures, pass %s", f.Revision, signer.signs.Load(), f.PKPass)
	}
	if err := h.SignAhead(ctx, "acme", "p-2"); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("sign ahead of an unknown pass: %v, want pass.ErrNotFound", err)
	}
}
