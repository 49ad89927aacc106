package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	deliverystage "github.com/passpush/passpush/ports/delivery"
	"github.com/passpush/passpush/service"
)

// leased counts the deliveries whose lease runs past at.
func leased(t *testing.T, db *sqldb.DB, at time.Time) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE lease_until > $1`, at.UnixMilli()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func leaseUntil(t *testing.T, db *sqldb.DB, eventID string) int64 {
	t.Helper()
	var until int64
	if err := db.QueryRowContext(context.Background(), `SELECT lease_until FROM deliveries WHERE event_id = $1`, eventID).Scan(&until); err != nil {
		t.Fatal(err)
	}
	return until
}

// poll waits until cond holds, failing the test at the deadline.
func poll(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stage is passpush's delivery stage on one database: the service's application, its projections running, and
// workers the test starts itself.
type stage struct {
	t   *testing.T
	db  *sqldb.DB
	box *secretbox.Box
	svc *service.Service
	log *logrus.Entry
	// logs records what the workers log, so a test can fail on a warning.
	logs *test.Hook
}

func newStage(t *testing.T, db *sqldb.DB) *stage {
	t.Helper()
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	// Shared: the stages of one test are instances on one database.
	box := secretboxtest.Shared(t)
	svc, err := service.New(db, service.Config{Webhook: webhooktest.LocalConfig(), Secrets: box}, logrus.NewEntry(logger))
	if err != nil {
		t.Fatal(err)
	}
	return &stage{t: t, db: db, box: box, svc: svc, log: logrus.NewEntry(logger), logs: hook}
}

// runProjections runs the buses, which turn scheduled updates into deliveries.
func (s *stage) runProjections() {
	ctx, cancel := context.WithCancel(context.Background())
	done, err := s.svc.RunBus(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// tenantWithWebhook creates the tenant with its webhook at url.
func (s *stage) tenantWithWebhook(tenantID, url string) {
	secret, whsec := "sfmc-secret-of-"+tenantID, "whsec"
	_, _, err := s.svc.App.Commands.SaveTenant.Handle(context.Background(), command.SaveTenant{TenantID: tenantID,
		Changes: tenant.Changes{SFMCSigningSecrets: []string{secret}, WebhookURL: &url, WebhookSecret: &whsec}})
	if err != nil {
		s.t.Fatal(err)
	}
}

// schedule registers passCount passes and schedules updatesPerPass updates of each, the update u of pass p under
// correlation id call-p-u, and waits until they are all queued for delivery.
func (s *stage) schedule(tenantID string, passCount, updatesPerPass int) {
	s.t.Helper()
	ctx := context.Background()
	var register []command.RegisterPass
	for p := range passCount {
		register = append(register, command.RegisterPass{TenantID: tenantID, PassID: fmt.Sprintf("p%04d", p),
			Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "0"}}})
	}
	if _, err := s.svc.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: tenantID, Passes: register}); err != nil {
		s.t.Fatal(err)
	}
	for u := range updatesPerPass {
		var updates []command.ScheduleJourneyPassUpdate
		for p := range passCount {
			updates = append(updates, command.ScheduleJourneyPassUpdate{TenantID: tenantID, PassID: fmt.Sprintf("p%04d", p),
				CorrelationID: fmt.Sprintf("call-%d-%d", p, u),
				Update: pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: fmt.Sprintf("entry-%d", u),
					Fields: map[string]string{"points": fmt.Sprint(u + 1)}}})
		}
		if err := s.svc.App.Commands.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: updates}); err != nil {
			s.t.Fatal(err)
		}
	}
	want := passCount * updatesPerPass
	// A bound only for a failing test: on PostgreSQL the projection reads only messages older than the cluster's
	// oldest running transaction, which another test's CREATE DATABASE holds for seconds on a loaded machine (30 s
	// ran out while 500 deliveries were being queued).
	poll(s.t, 2*time.Minute, fmt.Sprintf("%d deliveries queued", want), func() bool {
		n, err := s.svc.Deliveries.Pending(ctx)
		return err == nil && n == want
	})
}

// worker returns a delivery worker of the stage's application over queue.
func (s *stage) worker(queue deliverystage.Queue, config deliverystage.Config) *deliverystage.Worker {
	s.t.Helper()
	return s.workerPushingWith(queue, s.svc.App.Push, config)
}

// workerPushingWith returns a delivery worker of the stage's application that pushes through pusher.
func (s *stage) workerPushingWith(queue deliverystage.Queue, pusher deliverystage.Pusher, config deliverystage.Config) *deliverystage.Worker {
	s.t.Helper()
	w, err := deliverystage.NewWorker(queue, noBurst{}, pusher, s.svc.App.Commands.RecordPushOutcomes,
		config, s.log.WithField("component", "delivery"))
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// run runs w until the returned stop is called, which waits for it to return.
func (s *stage) run(w *deliverystage.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	return s.runUntil(w, ctx, cancel)
}

func (s *stage) runUntil(w *deliverystage.Worker, ctx context.Context, cancel context.CancelFunc) (stop func()) {
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.t.Errorf("worker: %v", err)
			}
		})
	}
	s.t.Cleanup(stop)
	return stop
}

// warnings are the warnings and errors logged so far.
func (s *stage) warnings() []string {
	var out []string
	for _, e := range s.logs.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			msg := e.Message
			if err, ok := e.Data[logrus.ErrorKey]; ok {
				msg += ": " + fmt.Sprint(err)
			}
			out = append(out, msg)
		}
	}
	return out
}

// outcomes returns the outcome events of the tenant's passes, by type.
func (s *stage) outcomes(tenantID string, passCount int) map[string][]eventstore.Event {
	s.t.Helper()
	streams := make([]string, passCount)
	for p := range passCount {
		streams[p] = passes.PushStreamID(fmt.Sprintf("p%04d", p))
	}
	loaded, err := s.svc.Events.Load(context.Background(), tenantID, streams...)
	if err != nil {
		s.t.Fatal(err)
	}
	byType := map[string][]eventstore.Event{}
	for _, events := range loaded {
		for _, e := range events {
			byType[e.Type] = append(byType[e.Type], e)
		}
	}
	return byType
}

type noBurst struct{}

func (noBurst) Accepted() int64 { return 0 }

// call is one webhook call the receiver answered.
type call struct {
	EventID string `json:"eventId"`
	PassID  string `json:"passId"`
	Version int    `json:"version"`
}

// receiver is a tenant's webhook. answer decides each call's status; it may block.
type receiver struct {
	url    string
	mu     sync.Mutex
	calls  []call
	answer func(c call) int
}

func newReceiver(t *testing.T, answer func(c call) int) *receiver {
	r := &receiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var c call
		if err := json.NewDecoder(req.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		w.WriteHeader(r.answer(c))
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *receiver) received() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func ok(call) int { return http.StatusOK }

func newQueue(t *testing.T, db *sqldb.DB) *delivery.Queue {
	t.Helper()
	q, err := delivery.NewQueue(db)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
