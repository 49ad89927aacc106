package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

const importFile = `{"passId":"p-1","passType":"loyalty","email":"Ann@Example.com","customId":"c-1","data":{"points":"10"}}
{"passId":"p-2","passType":"loyalty","email":"bob@example.com","data":{"points":"20"}}
{"passId":"p-3","passType":"loyalty","data":{"points":30}}
{"passId":"p-4","passType":"coupon","customId":"c-4","data":{}}

{"passId":"p-5","passType":"loyalty"}
`

type shownPass struct {
	PassID   string            `json:"passId"`
	PassType string            `json:"passType"`
	Email    string            `json:"email"`
	CustomID string            `json:"customId"`
	Data     map[string]string `json:"data"`
	Version  int               `json:"version"`
}

func (e *testEnv) getPass(tenantID, passID string) shownPass {
	e.t.Helper()
	out := e.mustRun("pass", "get", "--tenant", tenantID, passID).stdout
	var p shownPass
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		e.t.Fatalf("pass get %s: %v\n%s", passID, err, out)
	}
	return p
}

var summary = regexp.MustCompile(`(\d+) lines, (\d+) created, (\d+) changed, (\d+) unchanged, (\d+) bad`)

func assertSummary(t *testing.T, out, want string) {
	t.Helper()
	m := summary.FindString(out)
	if m != want {
		t.Errorf("import summary %q, want %q; output:\n%s", m, want, out)
	}
}

func TestPassImport_reportsBadLinesStoresTheRestAndIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	file := e.writeFile("passes.jsonl", importFile)

	r := e.mustRun("pass", "import", "--tenant", "acme", file)
	if !regexp.MustCompile(`(?m)^line 3: .*data`).MatchString(r.stderr) {
		t.Errorf("stderr does not report line 3 and its data field:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "line 5:") {
		t.Errorf("a blank line is reported as bad:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "lines/s") {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}
	assertSummary(t, r.stdout, "6 lines, 4 created, 0 changed, 0 unchanged, 1 bad")
	if !strings.Contains(r.stdout, "passes/s") {
		t.Errorf("summary has no rate: %s", r.stdout)
	}

	// The import returns only once the read model shows it, so every good line is readable at once.
	got := e.getPass("acme", "p-1")
	want := shownPass{PassID: "p-1", PassType: "loyalty", Email: "Ann@Example.com", CustomID: "c-1", Data: map[string]string{"points": "10"}, Version: 1}
	if got.PassID != want.PassID || got.Email != want.Email || got.CustomID != want.CustomID || got.Data["points"] != "10" || got.Version != 1 {
		t.Errorf("pass p-1 = %+v, want %+v", got, want)
	}
	for _, id := range []string{"p-2", "p-4", "p-5"} {
		if p := e.getPass("acme", id); p.PassID != id {
			t.Errorf("pass %s reads as %+v", id, p)
		}
	}
	if r := e.run("pass", "get", "--tenant", "acme", "p-3"); r.code == 0 {
		t.Errorf("the bad line's pass p-3 exists: %s", r.stdout)
	}

	again := e.mustRun("pass", "import", "--tenant", "acme", file)
	assertSummary(t, again.stdout, "6 lines, 0 created, 0 changed, 4 unchanged, 1 bad")
	if p := e.getPass("acme", "p-1"); p.Version != 1 {
		t.Errorf("re-import bumped p-1 to version %d", p.Version)
	}

	changed := e.writeFile("changed.jsonl", `{"passId":"p-1","passType":"loyalty","email":"Ann@Example.com","customId":"c-1","data":{"points":"11"}}`)
	assertSummary(t, e.mustRun("pass", "import", "--tenant", "acme", changed).stdout, "1 lines, 0 created, 1 changed, 0 unchanged, 0 bad")
	if p := e.getPass("acme", "p-1"); p.Version != 2 || p.Data["points"] != "11" {
		t.Errorf("after a changed line, p-1 = %+v, want version 2 with 11 points", p)
	}
}

func TestPassImport_manyBatchesAllReachTheReadModel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	var b strings.Builder
	for i := range 250 {
		b.WriteString(`{"passId":"p-` + itoa(i) + `","passType":"loyalty","data":{"n":"` + itoa(i) + `"}}` + "\n")
	}
	file := e.writeFile("passes.jsonl", b.String())
	r := e.mustRun("pass", "import", "--tenant", "acme", "--batch-size", "100", file)
	assertSummary(t, r.stdout, "250 lines, 250 created, 0 changed, 0 unchanged, 0 bad")
	for _, id := range []string{"p-0", "p-99", "p-100", "p-249"} {
		if p := e.getPass("acme", id); p.PassID != id {
			t.Errorf("pass %s reads as %+v", id, p)
		}
	}
}

func TestPassImport_unknownTenantFails(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	file := e.writeFile("passes.jsonl", importFile)
	r := e.run("pass", "import", "--tenant", "nobody", file)
	if r.code == 0 || !strings.Contains(r.stderr, "unknown or disabled tenant") {
		t.Errorf("import for an unknown tenant: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// Issue 13 §6: import keeps the caps on pass data. A line past one is reported, naming the limit, and nothing of
// it is stored; a line at every limit is imported.
func TestPassImport_dataPastItsLimitsIsABadLine(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "acme-sfmc-secret-0001")
	line := func(passID string, data map[string]string) string {
		b, err := json.Marshal(map[string]any{"passId": passID, "passType": "loyalty", "data": data})
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	fields := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m["f"+itoa(i)] = "v"
		}
		return m
	}
	atLimits := fields(99)
	atLimits[strings.Repeat("k", 64)] = strings.Repeat("v", 2048)
	file := e.writeFile("passes.jsonl", line("at-limits", atLimits)+
		line("fields", fields(101))+
		line("name", map[string]string{strings.Repeat("k", 65): "v"})+
		line("value", map[string]string{"k": strings.Repeat("v", 2049)}))

	r := e.mustRun("pass", "import", "--tenant", "acme", file)
	assertSummary(t, r.stdout, "4 lines, 1 created, 0 changed, 0 unchanged, 3 bad")
	for n, want := range map[int]string{2: "limit of 100 fields", 3: "limit of 64 bytes", 4: "limit of 2048 bytes"} {
		if !regexp.MustCompile(`(?m)^line ` + itoa(n) + `: .*` + want).MatchString(r.stderr) {
			t.Errorf("stderr does not report line %d with %q:\n%s", n, want, r.stderr)
		}
	}
	if p := e.getPass("acme", "at-limits"); len(p.Data) != 100 {
		t.Errorf("the pass at the limits has %d fields, want 100", len(p.Data))
	}
	for _, id := range []string{"fields", "name", "value"} {
		if r := e.run("pass", "get", "--tenant", "acme", id); r.code == 0 {
			t.Errorf("the bad line's pass %s exists: %s", id, r.stdout)
		}
	}
}
