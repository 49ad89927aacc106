package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit/auditrow"
)

// exportedEvent is one line of passpush events export.
type exportedEvent struct {
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	StreamID      string          `json:"streamId"`
	JourneyID     string          `json:"journeyId"`
	PassID        string          `json:"passId"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

func parseExport(t *testing.T, out string) []exportedEvent {
	t.Helper()
	var events []exportedEvent
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e exportedEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		events = append(events, e)
	}
	return events
}

func positionsOf(events []exportedEvent) []int64 {
	p := make([]int64, len(events))
	for i, e := range events {
		p[i] = e.Position
	}
	return p
}

func (e *testEnv) importPasses(tenantID, prefix string, n int) {
	e.t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"passId":"%s-%d","passType":"loyalty","email":"%s%d@example.com","data":{"points":"%d"}}`+"\n", prefix, i, prefix, i, i)
	}
	e.mustRun("pass", "import", "--tenant", tenantID, e.writeFile(tenantID+".jsonl", b.String()))
}

func TestEventsExport_writesEveryEventInOrderAndAnInterruptedOneResumes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("tenant", "add", "other", "--sfmc-signing-secret", "cli-sfmc-secret-2")
	// More lines than a pipe and the export's buffer hold, so the cut below comes half way.
	e.importPasses("acme", "a", 3000)
	e.importPasses("other", "o", 10)

	full := e.mustRun("events", "export", "--tenant", "acme")
	events := parseExport(t, full.stdout)
	if len(events) < 3001 {
		t.Fatalf("exported %d events, want the tenant's and its 3000 passes'", len(events))
	}
	registered := 0
	for i, ev := range events {
		if i > 0 && ev.Position <= events[i-1].Position {
			t.Fatalf("position %d after %d", ev.Position, events[i-1].Position)
		}
		if strings.HasPrefix(ev.PassID, "o-") {
			t.Fatalf("acme's export has other's event %+v", ev)
		}
		if ev.Type == "PassRegistered" {
			registered++
			if ev.StreamID == "" || !strings.Contains(ev.StreamID, ev.PassID) || ev.OccurredAt.IsZero() || !json.Valid(ev.Data) {
				t.Fatalf("event %+v", ev)
			}
		}
	}
	if registered != 3000 {
		t.Fatalf("%d PassRegistered events, want 3000", registered)
	}
	if !strings.Contains(full.stderr, fmt.Sprintf("exported %d events", len(events))) ||
		!strings.Contains(full.stderr, fmt.Sprintf("last position %d", events[len(events)-1].Position)) {
		t.Fatalf("stderr does not report the export:\n%s", full.stderr)
	}

	// Cut: the export is killed after the reader took some of its lines; what it wrote, less a half line at
	// the end, and a resumed export from its last position are the whole export, once.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "events", "export", "--tenant", "acme")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	var cut strings.Builder
	for range 100 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read the export: %v", err)
		}
		cut.WriteString(line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	_ = cmd.Wait()
	cutText := cut.String() + string(rest)
	if i := strings.LastIndexByte(cutText, '\n'); i != len(cutText)-1 {
		cutText = cutText[:i+1] // a half line the kill left
	}
	before := parseExport(t, cutText)
	if len(before) >= len(events) {
		t.Fatalf("the export wrote all %d events before it was killed: the test cut nothing", len(before))
	}
	resumed := e.mustRun("events", "export", "--tenant", "acme", "--after", fmt.Sprint(before[len(before)-1].Position))
	if cutText+resumed.stdout != full.stdout {
		got := positionsOf(append(before, parseExport(t, resumed.stdout)...))
		t.Fatalf("cut after %d events and resumed: %d events, want the full export's %d (positions %v… vs %v…)",
			len(before), len(got), len(events), got[:min(5, len(got))], positionsOf(events)[:5])
	}

	// --output gives the same lines in a file, and leaves no partial file.
	file := e.dir + "/acme.jsonl"
	e.mustRun("events", "export", "--tenant", "acme", "--output", file)
	written, err := os.ReadFile(file)
	if err != nil || string(written) != full.stdout {
		t.Fatalf("--output wrote %d bytes (%v), stdout had %d", len(written), err, len(full.stdout))
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("%s.partial is left: %v", file, err)
	}
}

// auditRow is an event as the audit log records it, written here directly: the filters are on the audit log, and
// only SQL gives events of chosen journeys and times in a few lines.
type auditRow struct {
	tenant, typ, journey, pass string
	at                         time.Time
}

func TestEventsExport_keepsTheEventsTheFiltersMatch(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	e.mustRun("tenant", "add", "other", "--sfmc-signing-secret", "cli-sfmc-secret-2")
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var rows []auditRow
	for i := range 24 {
		rows = append(rows, auditRow{
			tenant: []string{"acme", "other"}[i%2], typ: []string{"PassUpdateScheduled", "PushUpdateEmitted", "PushUpdateFailed"}[i%3],
			journey: []string{"j-1", "j-2"}[i/2%2], pass: []string{"p-1", "p-2", "p-3"}[i/4%3],
			at: base.Add(time.Duration(i) * time.Hour).Add(time.Duration(i) * 1500 * time.Microsecond),
		})
	}
	ctx := t.Context()
	db := e.openDB(ctx)
	defer db.Close()
	// Half the rows store their type as the projection does, by its code; the others by its name, as rows written
	// before the type had a code do: the filters find both.
	storedType := func(i int, typ string) string {
		if i/2%2 == 0 { // tenants alternate with i%2
			return auditrow.StoredType(typ)
		}
		return typ
	}
	for i, r := range rows {
		// Keyed as the projection keys an id that is not a UUID (a uuid column on PostgreSQL).
		key, text := auditrow.EventKey(fmt.Sprintf("ev-%02d", i))
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (event_id, event_text_id, tenant_id, event_type, occurred_at, journey_id, pass_id, correlation_id, data, stream_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9)`,
			key, text, r.tenant, storedType(i, r.typ), r.at, r.journey, r.pass, fmt.Sprintf(`{"i":%d}`, i), "pass-"+r.pass); err != nil {
			t.Fatal(err)
		}
	}

	wantOf := func(keep func(r auditRow) bool) []int {
		var want []int
		for i, r := range rows {
			if r.tenant == "acme" && keep(r) {
				want = append(want, i)
			}
		}
		return want
	}
	at := func(hours int) string { return base.Add(time.Duration(hours) * time.Hour).Format(time.RFC3339Nano) }
	for _, c := range []struct {
		name  string
		flags []string
		keep  func(r auditRow) bool
	}{
		{"journey", []string{"--journey", "j-2"}, func(r auditRow) bool { return r.journey == "j-2" }},
		{"pass", []string{"--pass", "p-3"}, func(r auditRow) bool { return r.pass == "p-3" }},
		{"types", []string{"--type", "PushUpdateFailed", "--type", "PassUpdateScheduled"},
			func(r auditRow) bool { return r.typ != "PushUpdateEmitted" }},
		{"types with a comma", []string{"--type", "PushUpdateEmitted,PushUpdateFailed"},
			func(r auditRow) bool { return r.typ != "PassUpdateScheduled" }},
		// --since keeps its time, --until drops its own; the events are 1.5 ms apart within a second of the hour.
		{"since and until", []string{"--since", at(4), "--until", at(14)},
			func(r auditRow) bool {
				return !r.at.Before(base.Add(4*time.Hour)) && r.at.Before(base.Add(14*time.Hour))
			}},
		{"since a time with a fraction", []string{"--since", rows[6].at.Format(time.RFC3339Nano)},
			func(r auditRow) bool { return !r.at.Before(rows[6].at) }},
		{"until a date", []string{"--until", "2026-03-02"},
			func(r auditRow) bool { return r.at.Before(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) }},
		{"journey, pass and type", []string{"--journey", "j-1", "--pass", "p-1", "--type", "PassUpdateScheduled"},
			func(r auditRow) bool { return r.journey == "j-1" && r.pass == "p-1" && r.typ == "PassUpdateScheduled" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := e.mustRun(append([]string{"events", "export", "--tenant", "acme"}, c.flags...)...).stdout
			var got []int
			for _, ev := range parseExport(t, out) {
				var data struct{ I int }
				if err := json.Unmarshal(ev.Data, &data); err != nil {
					t.Fatal(err)
				}
				if ev.JourneyID != rows[data.I].journey || ev.PassID != rows[data.I].pass || ev.StreamID != "pass-"+rows[data.I].pass ||
					!ev.OccurredAt.Equal(rows[data.I].at) {
					t.Fatalf("event %d exported as %+v", data.I, ev)
				}
				got = append(got, data.I)
			}
			if want := wantOf(c.keep); !slices.Equal(got, want) {
				t.Fatalf("exported events %v, want %v", got, want)
			}
		})
	}
}

func TestEventsExport_refusesAnUnknownTenantAndBadFlags(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tenant", "nobody"}, `unknown tenant "nobody"`},
		{[]string{}, `required flag(s) "tenant" not set`},
		{[]string{"--tenant", "acme", "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"--tenant", "acme", "--until", "2026-13-01"}, `--until "2026-13-01"`},
		{[]string{"--tenant", "acme", "--since", "2026-03-02", "--until", "2026-03-01"}, "--until must be after --since"},
		{[]string{"--tenant", "acme", "--after", "-1"}, "--after must be 0"},
	} {
		r := e.run(append([]string{"events", "export"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("export %v: exit %d, stdout %q, stderr:\n%s\nwant %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
	// An unknown tenant leaves no file behind.
	r := e.run("events", "export", "--tenant", "nobody", "--output", e.dir+"/x.jsonl")
	if _, err := os.Stat(e.dir + "/x.jsonl.partial"); r.code == 0 || !os.IsNotExist(err) {
		t.Errorf("export for an unknown tenant: exit %d, partial file: %v", r.code, err)
	}
}
