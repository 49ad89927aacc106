package cli_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
)

// poisoned is a message as an older build's poison middleware left it.
type poisoned struct {
	id, topic, handler, kind, reason string
}

// poison writes msgs on the poison topic of the test's database, with the metadata Watermill's poison middleware
// adds, as databases in the field hold them.
func (e *testEnv) poison(msgs ...poisoned) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	db := e.openDB(ctx)
	defer db.Close()
	pub, err := wsql.NewPublisher(db.DB, wsql.PublisherConfig{SchemaAdapter: db.Dialect.WatermillSchema}, watermill.NopLogger{})
	if err != nil {
		e.t.Fatal(err)
	}
	marshaler := cqrs.JSONMarshaler{GenerateName: cqrs.StructName}
	for _, p := range msgs {
		var v any = &command.ScheduleJourneyPassUpdates{Updates: []command.ScheduleJourneyPassUpdate{{TenantID: "acme", PassID: "p-1"}}}
		if p.kind == "Batch" {
			v = &eventstore.Batch{Events: []eventstore.Event{{ID: "e-1", TenantID: "acme", StreamID: "pass-p-1", Version: 2}}}
		}
		msg, err := marshaler.Marshal(v)
		if err != nil {
			e.t.Fatal(err)
		}
		msg.UUID = p.id
		middleware.SetCorrelationID("corr-"+p.id, msg)
		msg.Metadata.Set(middleware.ReasonForPoisonedKey, p.reason)
		msg.Metadata.Set(middleware.PoisonedTopicKey, p.topic)
		msg.Metadata.Set(middleware.PoisonedHandlerKey, p.handler)
		msg.Metadata.Set(middleware.PoisonedSubscriberKey, "*sql.Subscriber")
		msg.SetContext(ctx)
		if err := pub.Publish("poison", msg); err != nil {
			e.t.Fatal(err)
		}
	}
}

// onTopic returns how often the message is on the topic, and its metadata.
func (e *testEnv) onTopic(topic, id string) (int, message.Metadata) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	db := e.openDB(ctx)
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT metadata FROM watermill_`+topic+` WHERE uuid = $1`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	n, md := 0, message.Metadata{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &md); err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return n, md
}

var fieldMessages = []poisoned{
	{id: "0d6f5a8e-0000-4000-8000-000000000001", topic: "commands", handler: "ScheduleJourneyPassUpdates@commands", kind: "ScheduleJourneyPassUpdates",
		reason: "canceling statement due to lock timeout (SQLSTATE 55P03)"},
	{id: "0d6f5a8e-0000-4000-8000-000000000002", topic: "events", handler: "projections", kind: "Batch",
		reason: "projection audit: lock timeout\nsecond line"},
	{id: "0d6f5a8e-0000-4000-8000-000000000003", topic: "commands_1", handler: "ScheduleJourneyPassUpdates@commands_1", kind: "ScheduleJourneyPassUpdates",
		reason: "deadlock detected (SQLSTATE 40P01)"},
}

func TestPoisonList_saysSoWhenThereAreNone(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if out := e.mustRun("poison", "list").stdout; out != "no poisoned messages\n" {
		t.Errorf("poison list on a new database printed %q", out)
	}
	if out := e.mustRun("poison", "list", "--json").stdout; out != "" {
		t.Errorf("poison list --json on a new database printed %q, want nothing", out)
	}
	if out := e.mustRun("poison", "replay", "--all").stdout; out != "no poisoned messages\n" {
		t.Errorf("poison replay --all on a new database printed %q", out)
	}
}

func TestPoison_listShowsEachMessageAndReplaySendsItBackOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("migrate")
	e.poison(fieldMessages...)

	out := e.mustRun("poison", "list").stdout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^ID\s+OFFSET\s+TOPIC\s+HANDLER\s+SUBSCRIBER\s+KIND\s+POISONED AT\s+REASON$`).MatchString(lines[0]) {
		t.Fatalf("poison list:\n%s\nwant a header and three messages", out)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for i, m := range fieldMessages {
		reason := regexp.QuoteMeta(strings.ReplaceAll(m.reason, "\n", "?"))
		want := regexp.MustCompile(`^` + m.id + `\s+\d+\s+` + m.topic + `\s+` + m.handler + `\s+\*sql\.Subscriber\s+` + m.kind +
			`\s+(` + today + `|\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d\s+` + reason + `$`)
		if !want.MatchString(lines[i+1]) {
			t.Errorf("poison list line %d:\n%s\nwant it to match %s", i+1, lines[i+1], want)
		}
	}
	// The columns line up: every line's topic starts where the header's does.
	col := strings.Index(lines[0], "TOPIC")
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line[col:], "commands") && !strings.HasPrefix(line[col:], "events") {
			t.Errorf("poison list is not aligned:\n%s", out)
			break
		}
	}

	jsonOut := e.mustRun("poison", "list", "--json").stdout
	jsonLines := strings.Split(strings.TrimSuffix(jsonOut, "\n"), "\n")
	if len(jsonLines) != 3 {
		t.Fatalf("poison list --json:\n%s\nwant three lines", jsonOut)
	}
	var offsets []int64
	for i, line := range jsonLines {
		var got struct {
			ID, Topic, Handler, Subscriber, Reason, Kind string
			Offset                                       int64
			PoisonedAt                                   time.Time
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("poison list --json line %q: %v", line, err)
		}
		m := fieldMessages[i]
		if got.ID != m.id || got.Topic != m.topic || got.Handler != m.handler || got.Subscriber != "*sql.Subscriber" ||
			got.Reason != m.reason || got.Kind != m.kind || got.Offset <= 0 || time.Since(got.PoisonedAt) > 24*time.Hour {
			t.Errorf("poison list --json line %d: %+v, want %+v", i, got, m)
		}
		if !strings.Contains(line, `"poisonedAt":`) {
			t.Errorf("poison list --json line %d has no poisonedAt: %s", i, line)
		}
		offsets = append(offsets, got.Offset)
	}

	first := fieldMessages[0]
	out = e.mustRun("poison", "replay", "--id", first.id).stdout
	if want := "replayed " + first.id + " (ScheduleJourneyPassUpdates, offset " + offsetText(offsets[0]) + ") to commands\nreplayed 1 poisoned messages\n"; out != want {
		t.Errorf("poison replay --id printed %q, want %q", out, want)
	}
	if out := e.mustRun("poison", "list").stdout; strings.Contains(out, first.id) || strings.Count(out, "\n") != 3 {
		t.Errorf("poison list after replaying %s:\n%s\nwant the other two", first.id, out)
	}

	out = e.mustRun("poison", "replay", "--all").stdout
	want := "replayed " + fieldMessages[1].id + " (Batch, offset " + offsetText(offsets[1]) + ") to events\n" +
		"replayed " + fieldMessages[2].id + " (ScheduleJourneyPassUpdates, offset " + offsetText(offsets[2]) + ") to commands_1\n" +
		"replayed 2 poisoned messages\n"
	if out != want {
		t.Errorf("poison replay --all printed\n%s\nwant\n%s", out, want)
	}

	// Run again, it finds nothing; each message is on its own topic once, without the poison metadata.
	if out := e.mustRun("poison", "replay", "--all").stdout; out != "no poisoned messages\n" {
		t.Errorf("second poison replay --all printed %q", out)
	}
	if out := e.mustRun("poison", "list").stdout; out != "no poisoned messages\n" {
		t.Errorf("poison list after the replay printed %q", out)
	}
	for _, m := range fieldMessages {
		n, md := e.onTopic(m.topic, m.id)
		if n != 1 {
			t.Errorf("message %s is on %s %d times, want once", m.id, m.topic, n)
		}
		if md.Get(middleware.ReasonForPoisonedKey) != "" || md.Get(middleware.PoisonedTopicKey) != "" || md.Get(middleware.PoisonedHandlerKey) != "" ||
			md.Get(middleware.PoisonedSubscriberKey) != "" || md.Get("name") != m.kind || md.Get(middleware.CorrelationIDMetadataKey) != "corr-"+m.id {
			t.Errorf("message %s on %s has metadata %v, want its own without the poison keys", m.id, m.topic, md)
		}
	}
}

func TestPoisonReplay_refusesWhatItCannotMeanAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("migrate")
	e.poison(fieldMessages[0])

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"poison", "replay", "--id", fieldMessages[0].id, "--all"}, "not both"},
		{[]string{"poison", "replay"}, "--id ID"},
		{[]string{"poison", "replay", "--id", "no-such-id", "--id", fieldMessages[0].id, "--id", "another-one"},
			"no poisoned message with id no-such-id, another-one; nothing was replayed"},
		{[]string{"poison", "replay", "some-id"}, "unknown command"},
	} {
		r := e.run(tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("passpush %s: exit %d, stderr:\n%s\nwant an error saying %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
		if r.stdout != "" {
			t.Errorf("passpush %s printed %q, want nothing", strings.Join(tc.args, " "), r.stdout)
		}
	}
	if out := e.mustRun("poison", "list").stdout; !strings.Contains(out, fieldMessages[0].id) {
		t.Errorf("poison list after the refused replays:\n%s\nwant %s still there", out, fieldMessages[0].id)
	}
	if n, _ := e.onTopic("commands", fieldMessages[0].id); n != 0 {
		t.Errorf("message %s is on commands %d times after the refused replays, want never", fieldMessages[0].id, n)
	}
}

func TestPoisonReplay_helpSaysWhatReplayingEventsDoes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	out := e.mustRun("poison", "replay", "--help").stdout
	for _, want := range []string{"--id", "--all", "contact entry", "out of order", "projections rebuild"} {
		if !strings.Contains(out, want) {
			t.Errorf("passpush poison replay --help does not mention %q:\n%s", want, out)
		}
	}
}

func offsetText(n int64) string { return strconv.FormatInt(n, 10) }

// openDB opens the test's database beside the command under test, to write or read what a command cannot.
func (e *testEnv) openDB(ctx context.Context) *sqldb.DB {
	e.t.Helper()
	db, err := sqldb.Open(ctx, e.databaseURL, sqldb.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}
