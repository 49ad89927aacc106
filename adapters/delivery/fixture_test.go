package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// scheduled returns the PassUpdateScheduled events of updates revisions 2.. of each pass, as the projection
// hands them to Enqueue.
func scheduled(tenantID string, passCount, updatesPerPass int) []eventstore.Event {
	var events []eventstore.Event
	for p := range passCount {
		for u := range updatesPerPass {
			revision := u + 2
			payload, err := json.Marshal(pass.UpdateScheduled{
				UpdateFromJourney: pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: fmt.Sprintf("entry-%d-%d", p, u)},
				Revision:          revision, PassType: "loyalty", Data: map[string]string{"points": fmt.Sprint(revision)},
			})
			if err != nil {
				panic(err)
			}
			events = append(events, eventstore.Event{
				ID: fmt.Sprintf("ev-%04d-%02d", p, u), TenantID: tenantID, StreamID: passes.StreamID(fmt.Sprintf("p%04d", p)),
				Version: revision, Type: pass.UpdateScheduled{}.Name(), CorrelationID: fmt.Sprintf("call-%d-%d", p, u), Payload: payload,
			})
		}
	}
	return events
}

func enqueue(t *testing.T, q *delivery.Queue, events []eventstore.Event) {
	t.Helper()
	if err := q.Enqueue(context.Background(), events); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

// leased counts the deliveries whose lease runs past at.
func leased(t *testing.T, db *sqldb.DB, at time.Time) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE lease_until > $1`, at.UnixMilli()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
