package cli_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestProjectionsRebuild_rebuildsTheSamePasses(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("a.jsonl", importFile))
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("b.jsonl",
		`{"passId":"p-1","passType":"loyalty","email":"ann@example.com","data":{"points":"99"}}`))
	ids := []string{"p-1", "p-2", "p-4", "p-5"}
	before := map[string]string{}
	for _, id := range ids {
		before[id] = e.mustRun("pass", "get", "--tenant", "acme", id).stdout
	}

	out := e.mustRun("projections", "rebuild").stdout
	// The tenant's creation (TenantCreated), four passes registered, one of them changed once.
	if !regexp.MustCompile(`applied 6 events`).MatchString(out) {
		t.Errorf("projections rebuild printed %q, want it to have applied 6 events", out)
	}
	after := map[string]string{}
	for _, id := range ids {
		after[id] = e.mustRun("pass", "get", "--tenant", "acme", id).stdout
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("read model differs after the rebuild:\nbefore %v\nafter  %v", before, after)
	}
}

func TestProjectionsRebuild_deliveriesQueuesNothingWhenEveryUpdateHasItsOutcome(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("a.jsonl", importFile))
	out := e.mustRun("projections", "rebuild", "--projection", "deliveries").stdout
	if !strings.Contains(out, "rebuilt the delivery queue: queued 0 updates that had no outcome") {
		t.Errorf("rebuild --projection deliveries printed %q", out)
	}
	if r := e.run("projections", "rebuild", "--projection", "nonsense"); r.code == 0 || !strings.Contains(r.stderr, "unknown projection") {
		t.Errorf("rebuild of an unknown projection exited %d with %q, want a failure naming it", r.code, r.stderr)
	}
}

func TestProjectionsSkip_recordsTheSkipAndRefusesWhatItCannotSkip(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("a.jsonl", importFile))

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--projection", "passes", "--position", "1"}, `"reason" not set`},
		{[]string{"--projection", "passes", "--position", "1", "--reason", " "}, "--reason is required"},
		{[]string{"--projection", "passes", "--position", "0", "--reason", "r"}, "--position must be"},
		{[]string{"--projection", "nonsense", "--position", "1", "--reason", "r"}, "unknown projection"},
		{[]string{"--projection", "passes", "--position", "999999", "--reason", "r"}, "no event at that position"},
	} {
		r := e.run(append([]string{"projections", "skip"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("skip %v exited %d with %q, want a failure saying %q", c.args, r.code, r.stderr, c.want)
		}
	}
	out := e.mustRun("projections", "skip", "--projection", "audit", "--position", "1", "--reason", "a test").stdout
	if !regexp.MustCompile(`^projection audit skips the event at position 1; recorded as ProjectionSkipped [0-9a-f-]{36}\n$`).MatchString(out) {
		t.Errorf("skip printed %q", out)
	}
	if r := e.run("projections", "skip", "--projection", "audit", "--position", "1", "--reason", "again"); r.code == 0 || !strings.Contains(r.stderr, "already skipped") {
		t.Errorf("a second skip exited %d with %q, want it refused", r.code, r.stderr)
	}
}

func TestProjectionsRebuild_dryRunReportsNoDifferencesOnGoodReadModels(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("pass", "import", "--tenant", "acme", e.writeFile("a.jsonl", importFile))
	r := e.mustRun("projections", "rebuild", "--dry-run")
	for _, want := range []string{"; nothing changed\n", "passes: no differences\n", "audit_log: no differences\n",
		"apple_registrations: no differences\n", "deliveries: 0 updates without an outcome are not queued\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rebuild --dry-run printed %q, want it to say %q", r.stdout, want)
		}
	}
	if !regexp.MustCompile(`events/s`).MatchString(r.stderr) {
		t.Errorf("rebuild --dry-run showed no progress on stderr: %q", r.stderr)
	}
}
