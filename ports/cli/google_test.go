package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/google/googletest"
)

const cliIssuer = "3388000000012345678"

// noGoogleKeyIn fails when out holds a line of the key file's private key.
func noGoogleKeyIn(t *testing.T, out string, key googletest.KeyFile) {
	t.Helper()
	for _, line := range strings.Split(key.PrivateKeyPEM, "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
			t.Fatalf("the output holds a line of the service account's key:\n%s", out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("the output shows a key:\n%s", out)
	}
}

func TestGoogleSet_refusesBadKeyFilesThenSetsAndListsWithoutTheKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--name", "ACME", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("tenant", "add", "globex", "--sfmc-signing-secret", "cli-sfmc-secret-2")

	for name, c := range map[string]struct {
		file googletest.KeyFile
		want string
	}{
		"EC key":          {googletest.NewKeyFile(t, googletest.ECKey(t)), "private_key is not an RSA private key"},
		"no client_email": {googletest.NewKeyFile(t, googletest.Without("client_email")), "no client_email"},
		"no token_uri":    {googletest.NewKeyFile(t, googletest.Without("token_uri")), "no token_uri"},
	} {
		path := e.writeFile(strings.ReplaceAll(name, " ", "-")+".json", string(c.file.JSON))
		r := e.run("google", "set", "--tenant", "acme", "--issuer-id", cliIssuer, "--service-account-file", path)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant a refusal saying %q", name, r.code, r.stderr, c.want)
		}
		noGoogleKeyIn(t, r.stdout+r.stderr, c.file)
	}

	key := googletest.NewKeyFile(t)
	path := e.writeFile("acme-wallet.json", string(key.JSON))
	if r := e.run("google", "set", "--tenant", "nobody", "--issuer-id", cliIssuer, "--service-account-file", path); r.code == 0 ||
		!strings.Contains(r.stderr, "nobody") {
		t.Errorf("unknown tenant: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r := e.mustRun("google", "set", "--tenant", "acme", "--issuer-id", cliIssuer, "--service-account-file", path, "--rate", "12.5")
	if !strings.Contains(r.stdout, key.ClientEmail) || !strings.Contains(r.stdout, cliIssuer) || !strings.Contains(r.stdout, "12.5") {
		t.Errorf("set printed:\n%s", r.stdout)
	}
	noGoogleKeyIn(t, r.stdout+r.stderr, key)

	r = e.mustRun("tenant", "list")
	noGoogleKeyIn(t, r.stdout+r.stderr, key)
	if !regexp.MustCompile(`(?m)^acme\s+ACME\s+1\s+-\s+-\s+-\s+`+cliIssuer+`\s+`+regexp.QuoteMeta(key.ClientEmail)+`\s+12\.5\s+false$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^globex\s+-\s+1\s+-\s+-\s+-\s+-\s+-\s+-\s+false$`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "GOOGLE ISSUER") {
		t.Errorf("tenant list:\n%s\nwant acme's issuer, service account and rate, and dashes for globex", r.stdout)
	}
}

func TestGoogleClass_checkedThenPassLinkAddsTheGoogleLink(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.extraEnv = append(e.extraEnv, "PASSPUSH_PUBLIC_URL=https://passpush.example.com")
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	good := e.writeFile("loyalty.json", `{"state":"ACTIVE","accountName":"{{email}}","loyaltyPoints":{"balance":{"string":"{{points}}"}}}`)
	class := func(template, objectType, classID string) result {
		return e.run("google", "class", "--tenant", "acme", "--pass-type", "loyalty", "--object-type", objectType,
			"--class-id", classID, "--template", template)
	}
	if r := class(good, "loyalty", cliIssuer+".acme_loyalty"); r.code == 0 || !strings.Contains(r.stderr, "no Google settings") {
		t.Errorf("a class before the settings: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	key := googletest.NewKeyFile(t)
	e.mustRun("google", "set", "--tenant", "acme", "--issuer-id", cliIssuer, "--service-account-file", e.writeFile("key.json", string(key.JSON)))

	withID := e.writeFile("with-id.json", `{"id":"x"}`)
	notObject := e.writeFile("list.json", `[{"state":"ACTIVE"}]`)
	for name, c := range map[string]struct {
		r    result
		want string
	}{
		"object type":     {class(good, "boardingPass", cliIssuer+".acme_loyalty"), "objectType"},
		"other issuer":    {class(good, "loyalty", "1234.acme_loyalty"), "must start with the tenant's issuer id"},
		"template id":     {class(withID, "loyalty", cliIssuer+".acme_loyalty"), `must not have "id"`},
		"template a list": {class(notObject, "loyalty", cliIssuer+".acme_loyalty"), "must be a JSON object"},
	} {
		if c.r.code == 0 || !strings.Contains(c.r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant %q", name, c.r.code, c.r.stderr, c.want)
		}
	}
	if r := class(good, "loyalty", cliIssuer+".acme_loyalty"); r.code != 0 || !strings.Contains(r.stdout, "loyalty objects of class "+cliIssuer+".acme_loyalty") {
		t.Fatalf("good class: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	passes := e.writeFile("passes.jsonl", `{"passId":"p-1","passType":"loyalty","email":"ann@example.com","data":{"points":"10","tier":"gold"}}`+"\n"+
		`{"passId":"p-2","passType":"coupon","data":{}}`+"\n")
	e.mustRun("pass", "import", "--tenant", "acme", passes)

	r := e.mustRun("pass", "link", "--tenant", "acme", "p-1")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "https://passpush.example.com/api/acme/apple/passes/p-1.pkpass?") {
		t.Fatalf("pass link printed %q: want the Apple link, then the Google one", r.stdout)
	}
	noGoogleKeyIn(t, r.stdout+r.stderr, key)
	signed, ok := strings.CutPrefix(lines[1], "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("google link %q", lines[1])
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return &key.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(key.ClientEmail)); err != nil {
		t.Fatalf("the link's JWT does not verify with the service account's public key: %v", err)
	}
	obj := claims["payload"].(map[string]any)["loyaltyObjects"].([]any)[0].(map[string]any)
	if obj["id"] != cliIssuer+".acme_p-1" || obj["accountName"] != "ann@example.com" || claims["typ"] != "savetowallet" {
		t.Errorf("claims %v", claims)
	}
	if o := claims["origins"].([]any); len(o) != 1 || o[0] != "https://passpush.example.com" {
		t.Errorf("origins %v", o)
	}

	// A pass type without a class has the Apple link only.
	if r := e.mustRun("pass", "link", "--tenant", "acme", "p-2"); strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("pass link of a type without a class printed %q", r.stdout)
	}
}
