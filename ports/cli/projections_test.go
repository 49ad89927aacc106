package cli_test

import (
	"reflect"
	"regexp"
	"testing"
)

func TestProjectionsRebuild_rebuildsTheSamePasses(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "s1")
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("a.jsonl", importFile))
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("b.jsonl",
		`{"passId":"p-1","passType":"loyalty","email":"ann@example.com","data":{"points":"99"}}`))
	ids := []string{"p-1", "p-2", "p-4", "p-5"}
	before := map[string]string{}
	for _, id := range ids {
		before[id] = e.mustRun("pass", "get", "--tenant", "acme", id).stdout
	}

	out := e.mustRun("projections", "rebuild").stdout
	// Four passes registered, one of them changed once.
	if !regexp.MustCompile(`applied 5 events`).MatchString(out) {
		t.Errorf("projections rebuild printed %q, want it to have applied 5 events", out)
	}
	after := map[string]string{}
	for _, id := range ids {
		after[id] = e.mustRun("pass", "get", "--tenant", "acme", id).stdout
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("read model differs after the rebuild:\nbefore %v\nafter  %v", before, after)
	}
}
