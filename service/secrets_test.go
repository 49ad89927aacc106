package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/domain/tenant"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// rawSecrets reads every stored secret as the database holds it: the credentials' data and the tenants' signing
// secrets.
func rawSecrets(t *testing.T, db *sqldb.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	raw := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT tenant_id || '/' || kind || '/' || name, data FROM channel_credentials
		UNION ALL SELECT tenant_id || '/sfmc', sfmc_signing_secrets FROM tenants`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var where, data string
		if err := rows.Scan(&where, &data); err != nil {
			t.Fatal(err)
		}
		raw[where] = data
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return raw
}

// textsOf collects the strings of a JSON value, line by line, that are long enough to be recognised in a row.
func textsOf(t *testing.T, data []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			for _, line := range strings.Split(v, "\n") {
				if len(line) >= 12 {
					texts = append(texts, line)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return texts
}

func TestSecrets_noneIsStoredInClear(t *testing.T) {
	t.Parallel()
	box := secretboxtest.New(t)
	h := serve(t, service.Config{Secrets: box, PublicURL: "https://passpush.example.com"},
		httpport.Config{AdminToken: adminToken, PublicURL: "https://passpush.example.com"})
	h.addTenant("acme")
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)
	pki := appletest.NewPKI(t)
	h.putCertificate("acme", pki)
	googleKey := googletest.NewKeyFile(t)
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", googleSettingsBody(t, googleIssuer, googleKey, 0)); res.status != http.StatusOK {
		t.Fatalf("PUT google settings: %d %s", res.status, res.body)
	}
	if res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t)); res.status != http.StatusOK {
		t.Fatalf("PUT template: %d %s", res.status, res.body)
	}
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	h.makeLink("acme", "p-1", `{}`)

	creds, err := credentials.NewStore(h.svc.DB, box)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	secrets := []string{sfmcSecret}
	for _, line := range strings.Split(string(pki.Pass.KeyPEM)+googleKey.PrivateKeyPEM, "\n") {
		if len(line) > 20 {
			secrets = append(secrets, line)
		}
	}
	for _, kind := range []string{credentials.KindWebhook, "apple", "google", "link"} {
		cs, err := creds.List(ctx, "acme", kind)
		if err != nil || len(cs) == 0 {
			t.Fatalf("%s credentials: %d, %v", kind, len(cs), err)
		}
		for _, c := range cs {
			secrets = append(secrets, textsOf(t, c.Data)...)
		}
	}
	raw := rawSecrets(t, h.svc.DB)
	if len(raw) != 5 || len(secrets) < 20 {
		t.Fatalf("%d rows and %d secrets to look for: the fixture is not what the test is about", len(raw), len(secrets))
	}
	for where, data := range raw {
		if !secretbox.IsSealed(data) {
			t.Errorf("%s is not sealed: %.40q…", where, data)
		}
		for _, s := range secrets {
			if strings.Contains(data, s) {
				t.Errorf("%s holds %.12q… in clear", where, s)
			}
		}
	}
}

// version12Tenants stores tenants and credentials in plain text, as versions before the secrets were sealed did.
func version12Tenants(t *testing.T, db *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := sqldbtest.Migrations(t, db).UpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, disabled, created_at, updated_at)
			VALUES ('acme', 'ACME', '["legacy-acme-sfmc-secret"]', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
			('twin-a', '', '["legacy-shared-sfmc-secret"]', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
			('twin-b', '', '["legacy-shared-sfmc-secret"]', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`,
		`INSERT INTO channel_credentials (tenant_id, kind, name, data, revision, updated_at) VALUES
			('acme', 'webhook', 'default', '{"url":"https://hooks.example.com/h","secret":"legacy-webhook-secret"}', 7, CURRENT_TIMESTAMP),
			('acme', 'link', 'default', '{"key":"bGVnYWN5LWxpbmsta2V5LWJ5dGVzLTAxMjM0NTY3ODk="}', 8, CURRENT_TIMESTAMP)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
}

func TestSealSecrets_sealsThePlainRowsOfEarlierVersionsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldbtest.NewURL(t), sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	version12Tenants(t, db)
	box := secretboxtest.New(t)
	logger, logs := test.NewNullLogger()

	if err := service.SealSecrets(ctx, db, box, logrus.NewEntry(logger)); err != nil {
		t.Fatal(err)
	}
	sealed := rawSecrets(t, db)
	for where, data := range sealed {
		if !secretbox.IsSealed(data) || strings.Contains(data, "legacy") {
			t.Errorf("%s after the step: %q", where, data)
		}
	}
	if len(sealed) != 5 {
		t.Errorf("%d rows, want 5", len(sealed))
	}
	// Still readable, and the revisions stay.
	store, err := tenants.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := store.Get(ctx, "acme")
	if err != nil || acme.SFMCSigningSecrets[0] != "legacy-acme-sfmc-secret" || !slices.Equal(acme.Webhook.Secrets, []string{"legacy-webhook-secret"}) {
		t.Fatalf("acme after the step: %+v, %v", acme, err)
	}
	creds, err := credentials.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	if link, err := creds.Get(ctx, "acme", "link", "default"); err != nil || !strings.Contains(string(link.Data), "bGVnYWN5") || link.Revision != 8 {
		t.Errorf("link key after the step: %s rev %d, %v", link.Data, link.Revision, err)
	}
	// The legacy secrets got fingerprints: another tenant cannot take acme's.
	err = store.Save(ctx, tenant.Tenant{ID: "copycat", SFMCSigningSecrets: []string{"legacy-acme-sfmc-secret"}, Activity: tenant.DefaultActivity})
	if !errors.Is(err, tenant.ErrSigningSecretInUse) {
		t.Errorf("a new tenant with acme's legacy secret: %v", err)
	}
	// Two tenants that shared a secret before it was refused do not stop the start; the log names them.
	warned := false
	for _, e := range logs.AllEntries() {
		if e.Level == logrus.WarnLevel && e.Data["tenant"] == "twin-b" && e.Data["other_tenant"] == "twin-a" {
			warned = true
		}
		if line, _ := e.String(); strings.Contains(line, "legacy-") {
			t.Errorf("a log line holds a secret: %s", line)
		}
	}
	if !warned {
		t.Error("no warning names the two tenants that share a secret")
	}

	// A second run changes nothing.
	if err := service.SealSecrets(ctx, db, box, logrus.NewEntry(logger)); err != nil {
		t.Fatal(err)
	}
	for where, data := range rawSecrets(t, db) {
		if sealed[where] != data {
			t.Errorf("%s was sealed again", where)
		}
	}
}

func TestRotateSecretKey_reEncryptsEverySecretWithTheNewKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqldbtest.New(t)
	oldKey, newKey := secretboxtest.Key(t), secretboxtest.Key(t)
	oldBox, _ := secretbox.New(oldKey)
	oldStore, err := tenants.NewStore(db, oldBox)
	if err != nil {
		t.Fatal(err)
	}
	acme := tenant.Tenant{ID: "acme", SFMCSigningSecrets: []string{"acme-sfmc-secret-0001"}, Activity: tenant.DefaultActivity,
		Webhook: tenant.Webhook{URL: "https://hooks.example.com/h", Secrets: []string{"acme-webhook-secret"}}}
	if err := oldStore.Save(ctx, acme); err != nil {
		t.Fatal(err)
	}
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetOutput(io.Discard)

	// The instances run with the new key and the old one as the previous key, and so does the rotation.
	both, _ := secretbox.New(newKey, oldKey)
	if err := service.RotateSecretKey(ctx, db, both, newKey, log); err != nil {
		t.Fatal(err)
	}
	newOnly, _ := secretbox.New(newKey)
	for where, data := range rawSecrets(t, db) {
		if !newOnly.SealedWithCurrent(data) {
			t.Errorf("%s is not sealed with the new key", where)
		}
	}
	newStore, err := tenants.NewStore(db, newOnly)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newStore.Get(ctx, "acme")
	if err != nil || got.SFMCSigningSecrets[0] != "acme-sfmc-secret-0001" || !slices.Equal(got.Webhook.Secrets, []string{"acme-webhook-secret"}) {
		t.Fatalf("acme with the new key only: %+v, %v", got, err)
	}
	if _, err := oldStore.Get(ctx, "acme"); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Errorf("acme with the old key only: %v, want secretbox.ErrUnknownKey", err)
	}
	// The fingerprints were computed again with the new key: the secret is still acme's alone.
	err = newStore.Save(ctx, tenant.Tenant{ID: "copycat", SFMCSigningSecrets: []string{"acme-sfmc-secret-0001"}, Activity: tenant.DefaultActivity})
	if !errors.Is(err, tenant.ErrSigningSecretInUse) {
		t.Errorf("after the rotation, a new tenant with acme's secret: %v", err)
	}
}
