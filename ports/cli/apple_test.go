package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/apple/appletest"
)

const cliPassJSON = `{"formatVersion":1,"passTypeIdentifier":"pass.com.example.test","teamIdentifier":"X",
"organizationName":"Example","description":"Card of {{email}}","storeCard":{"primaryFields":[{"key":"points","label":"Points","value":0}]}}`

func (e *testEnv) templateDir(name, passJSON string, withIcon bool) string {
	e.t.Helper()
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pass.json"), []byte(passJSON), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if withIcon {
		if err := os.WriteFile(filepath.Join(dir, "icon.png"), []byte("\x89PNG not really"), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	return dir
}

func noKeyIn(t *testing.T, out string, is *appletest.Issued) {
	t.Helper()
	for _, line := range strings.Split(string(is.KeyPEM), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
			t.Fatalf("the output holds a line of the private key:\n%s", out)
		}
	}
	if strings.Contains(out, appletest.P12Password) {
		t.Fatalf("the output holds the .p12 password:\n%s", out)
	}
}

func TestAppleCertificate_addFromAP12AndFromPEMThenList(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	pki := appletest.NewPKI(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")

	_, p12File := pki.P12(t, pki.Pass, false)
	pwFile := e.writeFile("p12-password", appletest.P12Password+"\n")
	r := e.mustRun("apple", "certificate", "add", "--tenant", "acme", "--p12", p12File, "--p12-password-file", pwFile, "--wwdr", pki.WWDR.CertFile)
	if !strings.Contains(r.stdout, appletest.PassTypeID) || !strings.Contains(r.stdout, appletest.TeamID) {
		t.Errorf("add from a .p12 printed:\n%s", r.stdout)
	}
	noKeyIn(t, r.stdout+r.stderr, pki.Pass)

	other := pki.IssuePass(t, "other", appletest.PassOptions{UID: "pass.com.example.other"})
	r = e.mustRun("apple", "certificate", "add", "--tenant", "acme", "--cert", other.CertFile, "--key", other.KeyFile, "--wwdr", pki.WWDR.CertFile)
	noKeyIn(t, r.stdout+r.stderr, other)

	r = e.mustRun("apple", "certificate", "list", "--tenant", "acme")
	noKeyIn(t, r.stdout+r.stderr, pki.Pass)
	noKeyIn(t, r.stdout+r.stderr, other)
	if !regexp.MustCompile(`(?m)^pass\.com\.example\.other\s+`+appletest.TeamID+`\s+\d{4}-\d\d-\d\dT\S+\s+.*UID=pass\.com\.example\.other`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^pass\.com\.example\.test\s+`+appletest.TeamID+`\s+`).MatchString(r.stdout) {
		t.Errorf("list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "PRIVATE KEY") {
		t.Errorf("list shows a key:\n%s", r.stdout)
	}
}

func TestAppleCertificate_addRefusesAndWarns(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	pki := appletest.NewPKI(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	_, otherKey := pki.OtherKeyPEM(t)
	expired, notPass := pki.Expired(t), pki.NotPass(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a key that does not match", []string{"--cert", pki.Pass.CertFile, "--key", otherKey}, "does not match"},
		{"an expired certificate", []string{"--cert", expired.CertFile, "--key", expired.KeyFile}, "expired"},
		{"not a Pass Type ID certificate", []string{"--cert", notPass.CertFile, "--key", notPass.KeyFile}, "UID"},
		{"neither a .p12 nor PEM", nil, "--p12"},
	} {
		args := append([]string{"apple", "certificate", "add", "--tenant", "acme", "--wwdr", pki.WWDR.CertFile}, tc.args...)
		r := e.run(args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr:\n%s", tc.name, r.code, r.stderr)
		}
		noKeyIn(t, r.stdout+r.stderr, pki.Pass)
	}
	if r := e.run("apple", "certificate", "add", "--tenant", "nobody", "--cert", pki.Pass.CertFile, "--key", pki.Pass.KeyFile, "--wwdr", pki.WWDR.CertFile); r.code == 0 {
		t.Errorf("an unknown tenant: exit 0:\n%s", r.stdout)
	}

	soon := pki.ExpiringSoon(t)
	r := e.mustRun("apple", "certificate", "add", "--tenant", "acme", "--cert", soon.CertFile, "--key", soon.KeyFile, "--wwdr", pki.WWDR.CertFile)
	if !strings.Contains(r.stderr, "warning:") || !strings.Contains(r.stderr, "expires") {
		t.Errorf("a certificate that expires in 10 days: no warning on stderr:\n%s", r.stderr)
	}
	if r := e.mustRun("apple", "certificate", "list", "--tenant", "acme"); !strings.Contains(r.stderr, "warning:") {
		t.Errorf("list of a certificate that expires in 10 days: no warning on stderr:\n%s", r.stderr)
	}
}

func TestTemplatePut_andPassLink(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.extraEnv = append(e.extraEnv, "PASSPUSH_PUBLIC_URL=https://passpush.example.com")
	pki := appletest.NewPKI(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")

	good := e.templateDir("loyalty", cliPassJSON, true)
	if r := e.run("template", "put", "--tenant", "acme", "--pass-type", "loyalty", good); r.code == 0 || !strings.Contains(r.stderr, "pass.json: passTypeIdentifier") {
		t.Errorf("a template without a certificate: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	e.mustRun("apple", "certificate", "add", "--tenant", "acme", "--cert", pki.Pass.CertFile, "--key", pki.Pass.KeyFile, "--wwdr", pki.WWDR.CertFile)
	for _, want := range []string{"stored version 1 ", "stored version 2 "} {
		if r := e.mustRun("template", "put", "--tenant", "acme", "--pass-type", "loyalty", good); !strings.Contains(r.stdout, want) {
			t.Errorf("template put printed %q, want %q", r.stdout, want)
		}
	}
	noIcon := e.templateDir("no-icon", cliPassJSON, false)
	if r := e.run("template", "put", "--tenant", "acme", "--pass-type", "loyalty", noIcon); r.code == 0 || !strings.Contains(r.stderr, "icon.png: missing") {
		t.Errorf("a template without an icon: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	badJSON := e.templateDir("bad-json", `{"passTypeIdentifier":`, true)
	if r := e.run("template", "put", "--tenant", "acme", "--pass-type", "loyalty", badJSON); r.code == 0 || !strings.Contains(r.stderr, "pass.json: invalid JSON") {
		t.Errorf("a template with invalid JSON: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	passes := e.writeFile("passes.jsonl", `{"passId":"p-1","passType":"loyalty","email":"ann@example.com","data":{"points":"10"}}`+"\n")
	e.mustRun("pass", "import", "--tenant", "acme", passes)
	r := e.mustRun("pass", "link", "--tenant", "acme", "p-1", "--ttl", "24h")
	if !regexp.MustCompile(`^https://passpush\.example\.com/api/acme/apple/passes/p-1\.pkpass\?expires=\d+&sig=[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Errorf("pass link printed %q", r.stdout)
	}
	if r := e.run("pass", "link", "--tenant", "acme", "nobody"); r.code == 0 || !strings.Contains(r.stderr, "no pass nobody") {
		t.Errorf("link to an unknown pass: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
