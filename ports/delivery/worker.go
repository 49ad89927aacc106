// Package delivery is the delivery stage: it drives the application from the delivery queue, as the HTTP port
// does from a request. It claims due deliveries, pushes them through the pass's channels many at a time, and
// records each outcome in the transaction that removes its delivery.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/pass"
)

// Queue is where deliveries wait: adapters/delivery.Queue.
type Queue interface {
	// Claim leases up to limit due deliveries, each the oldest pending one of its pass. With an error it may
	// still return deliveries: those it leased and could read.
	Claim(ctx context.Context, limit int, lease time.Duration) ([]push.Delivery, error)
	// ClaimTenants is Claim with a limit per tenant; DueTenants lists the tenants with due deliveries (fair.go).
	ClaimTenants(ctx context.Context, quotas []push.TenantQuota, lease time.Duration) ([]push.Delivery, error)
	DueTenants(ctx context.Context) ([]string, error)
	// Renew extends the lease of deliveries in flight; Release hands unstarted ones back.
	Renew(ctx context.Context, eventIDs []string, lease time.Duration) error
	Release(ctx context.Context, eventIDs []string) error
	// RetryAll keeps each delivery's progress and makes it due again at its time, in one transaction.
	RetryAll(ctx context.Context, retries []push.Rescheduled) error
	// Finish removes deliveries in one transaction with record, which stores their outcomes.
	Finish(ctx context.Context, eventIDs []string, record func(ctx context.Context) error) error
}

// Pusher makes one attempt of a delivery: push.FanOut.
type Pusher interface {
	Push(ctx context.Context, d push.Delivery) push.Attempt
}

// OutcomeRecorder records how deliveries ended: command.RecordPushOutcomesHandler.
type OutcomeRecorder interface {
	Handle(ctx context.Context, cmd command.RecordPushOutcomes) error
}

// OutcomeCounter counts channels' outcomes that no single push decides: a channel given up on after its last
// attempt is counted failed. Each push's own outcome is counted around the channel (metrics.TimedChannel).
type OutcomeCounter interface {
	DeliveryOutcome(channel, outcome string)
}

// Config tunes the delivery stage. Zero fields take the defaults.
type Config struct {
	// Concurrency is how many deliveries are in flight at once. A receiver that takes 50 ms per call needs
	// 100 in flight for 2,000 updates/s; more lets a backlog drain faster.
	Concurrency int
	// BurstRate, BurstConcurrency and MaxBurst hold deliveries back while Journey Builder brings updates faster than
	// the stage could deliver them anyway. Then the execute calls and the deliveries compete for the same CPU, and
	// Journey Builder, which retries a slow call, waits. While more than BurstRate updates a second are accepted, at
	// most BurstConcurrency deliveries are in flight; the backlog goes out at full Concurrency once the burst ends, or
	// once it has lasted MaxBurst, so a load that never ends cannot starve deliveries. Journey Builder sends at most
	// about 1,400 contacts a second to one activity, so the default rate of 3,000 takes several journeys at full speed
	// at once. BurstConcurrency equal to Concurrency turns this off.
	BurstRate        float64
	BurstConcurrency int
	MaxBurst         time.Duration
	// BurstClock is the clock the pace of accepted updates is measured on. Default time.Now; a test moves it by
	// hand, so that what counts as a burst does not depend on how fast a loaded machine serves the calls.
	BurstClock func() time.Time
	// PollInterval is how long an idle worker waits before it looks for due deliveries again.
	PollInterval time.Duration
	// Lease is how long a claimed delivery stays hidden from other workers. The worker renews the lease of the
	// deliveries it holds every third of it, so an attempt may take longer than the lease, while the deliveries of
	// an instance that died come back after one lease at most.
	Lease time.Duration
	// AttemptTimeout bounds one push to one channel; a timeout is retried.
	AttemptTimeout time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is recorded as failed. By default, as many as
	// the backoff schedule makes in RetryWindow: a receiver may be down for a day without losing an update.
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles per attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// FlushInterval is how long finished deliveries wait to be recorded together in one transaction.
	FlushInterval time.Duration
	// TenantShare is the percentage (1-100) of the slots one tenant's deliveries may hold while other tenants
	// have deliveries due, so a tenant whose webhook hangs or fails cannot hold up the others (fair.go). 100
	// turns it off. Default DefaultTenantShare.
	TenantShare int
	// Outcomes counts the channels given up on; nil counts nothing.
	Outcomes OutcomeCounter
}

// DefaultTenantShare is the default TenantShare, in percent.
const DefaultTenantShare = 25

func (c *Config) setDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 512
	}
	if c.BurstRate == 0 {
		c.BurstRate = 3000
	}
	if c.BurstConcurrency == 0 {
		c.BurstConcurrency = min(32, c.Concurrency)
	}
	if c.MaxBurst == 0 {
		c.MaxBurst = 30 * time.Second
	}
	if c.BurstClock == nil {
		c.BurstClock = time.Now
	}
	if c.PollInterval == 0 {
		c.PollInterval = 20 * time.Millisecond
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 10 * time.Second
	}
	if c.Lease == 0 {
		c.Lease = 10 * time.Second
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.MaxAttempts == 0 && c.Backoff > 0 && c.MaxBackoff > 0 {
		// A count rather than an age limit: the deliveries table keeps no first-attempt time, and a count keeps
		// its meaning when the schedule is changed. 153 attempts with the default schedule.
		c.MaxAttempts = attemptsWithin(RetryWindow, c.Backoff, c.MaxBackoff)
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 10 * time.Millisecond
	}
	if c.TenantShare == 0 {
		c.TenantShare = DefaultTenantShare
	}
}

// RetryWindow is how long the default schedule keeps retrying a delivery: a day, as Stripe-like webhooks do.
const RetryWindow = 24 * time.Hour

// MinLease keeps renewals, every third of the lease, from becoming most of the stage's statements.
const MinLease = 100 * time.Millisecond

// attemptsWithin is how many attempts fit in window when the first is made at once and each later one waits
// backoff, doubling per attempt up to maxBackoff.
func attemptsWithin(window, backoff, maxBackoff time.Duration) int {
	attempts, elapsed := 1, time.Duration(0)
	for wait := backoff; ; wait *= 2 {
		if wait >= maxBackoff {
			return attempts + int((window-elapsed)/maxBackoff)
		}
		if elapsed+wait > window {
			return attempts
		}
		elapsed += wait
		attempts++
	}
}

// Validate reports a config the stage cannot run with.
func (c Config) Validate() error {
	var err error
	if c.Concurrency < 1 {
		err = errors.Join(err, errors.New("concurrency must be at least 1"))
	}
	if c.BurstRate <= 0 || c.MaxBurst <= 0 {
		err = errors.Join(err, errors.New("burst rate and max burst must be positive"))
	}
	if c.BurstConcurrency < 1 || c.BurstConcurrency > c.Concurrency {
		err = errors.Join(err, errors.New("burst concurrency must be between 1 and the concurrency"))
	}
	if c.PollInterval <= 0 || c.AttemptTimeout <= 0 || c.Backoff <= 0 || c.MaxBackoff <= 0 || c.FlushInterval <= 0 {
		err = errors.Join(err, errors.New("intervals and timeouts must be positive"))
	}
	// An attempt may outlast the lease: the lease is renewed while the attempt is in flight.
	if c.Lease < MinLease {
		err = errors.Join(err, fmt.Errorf("lease must be at least %s", MinLease))
	}
	if c.MaxBackoff < c.Backoff {
		err = errors.Join(err, errors.New("max backoff must not be shorter than the backoff"))
	}
	if c.MaxAttempts < 1 {
		err = errors.Join(err, errors.New("max attempts must be at least 1"))
	}
	if c.TenantShare < 1 || c.TenantShare > 100 {
		err = errors.Join(err, errors.New("tenant share must be a percentage from 1 to 100"))
	}
	return err
}

// Worker runs the delivery stage.
type Worker struct {
	queue    Queue
	accepted AcceptedCounter
	pusher   Pusher
	record   OutcomeRecorder
	config   Config
	log      *logrus.Entry
	// running is true while Run runs, for the readiness check; inFlight is how many deliveries are claimed and
	// not yet written back.
	running  atomic.Bool
	inFlight atomic.Int64
}

// Running reports whether the stage is running: claiming and delivering.
func (w *Worker) Running() bool { return w.running.Load() }

// InFlight is how many deliveries the stage has claimed and not yet written back.
func (w *Worker) InFlight() int64 { return w.inFlight.Load() }

// NewWorker returns a worker over queue that pushes with pusher and records outcomes with record, holding
// deliveries back while accepted counts a burst.
func NewWorker(queue Queue, accepted AcceptedCounter, pusher Pusher, record OutcomeRecorder, config Config,
	log *logrus.Entry) (*Worker, error) {
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid delivery config: %w", err)
	}
	if queue == nil || accepted == nil || pusher == nil || record == nil || log == nil {
		return nil, errors.New("new delivery worker: queue, accepted counter, pusher, recorder and log are required")
	}
	return &Worker{queue: queue, accepted: accepted, pusher: pusher, record: record, config: config, log: log}, nil
}

// finished is an attempt's result, waiting to be written.
type finished struct {
	delivery push.Delivery
	outcome  *pass.PushOutcome // nil: retry at retryAt
	retryAt  time.Time
	lastErr  string
}

// Run claims and delivers until ctx ends, then hands back what it claimed but did not start, waits for the
// deliveries in flight and records them.
func (w *Worker) Run(ctx context.Context) error {
	w.running.Store(true)
	defer w.running.Store(false)
	slots := make(chan struct{}, w.config.Concurrency)
	done := make(chan finished, w.config.Concurrency)
	held := newHeldSet()
	claims := w.newClaimer()
	var inFlight sync.WaitGroup
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		w.flushLoop(done, slots, held, claims.tenants)
	}()
	// Leases are renewed until the last delivery is written back, after ctx ends too.
	renewing, stopRenewing := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renewLoop(renewing, held)
	}()

	// Attempts get a context that outlives ctx by the attempt timeout, so a shutdown lets them finish and be
	// recorded instead of leaving them to lease expiry.
	attemptCtx := context.WithoutCancel(ctx)
	burst := newBurstMeter(w.accepted, w.config.BurstRate, w.config.MaxBurst, w.config.BurstClock())
	isHeldBack := false
	for ctx.Err() == nil {
		limit := w.config.Concurrency
		if now := w.config.BurstClock(); burst.inBurst(now) != isHeldBack {
			isHeldBack = !isHeldBack
			w.logBurst(isHeldBack, burst, now)
		}
		if isHeldBack {
			limit = w.config.BurstConcurrency
		}
		free := limit - len(slots)
		if free <= 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w.config.PollInterval):
			}
			continue
		}
		// The claim leases its rows from a time it reads after this one, so their leases last at least until
		// claimedAt plus the lease.
		claimedAt := time.Now()
		items, err := claims.claim(ctx, free, limit)
		if err != nil && ctx.Err() == nil {
			w.log.WithError(err).WithField("claimed", len(items)).Warn("claim deliveries failed; retrying")
		}
		if err != nil && len(items) == 0 {
			sleep(ctx, time.Second)
			continue
		}
		if len(items) == 0 {
			sleep(ctx, w.config.PollInterval)
			continue
		}
		if ctx.Err() != nil {
			// Stopping: another instance can push these now rather than after their lease.
			w.release(items)
			break
		}
		for _, d := range items {
			slots <- struct{}{}
			claims.tenants.take(d.Update.TenantID)
			held.add(d.Update.EventID, claimedAt.Add(w.config.Lease))
			w.inFlight.Add(1)
			inFlight.Go(func() { done <- w.attempt(attemptCtx, d) })
		}
	}
	inFlight.Wait()
	close(done)
	<-flushed
	stopRenewing()
	<-renewed
	return nil
}

// release hands back claimed deliveries that were not started, in one statement.
func (w *Worker) release(items []push.Delivery) {
	ids := make([]string, len(items))
	for i, d := range items {
		ids[i] = d.Update.EventID
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.config.Lease)
	defer cancel()
	if err := w.queue.Release(ctx, ids); err != nil {
		w.log.WithError(err).WithField("deliveries", len(ids)).Warn("could not hand back unstarted deliveries; their lease will run out")
		return
	}
	w.log.WithField("deliveries", len(ids)).Info("handed back unstarted deliveries")
}

// heldSet is the deliveries this worker has claimed and not yet written back: the rows whose lease it renews,
// each with the time its lease is known to last until.
type heldSet struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func newHeldSet() *heldSet { return &heldSet{ids: map[string]time.Time{}} }

// add holds id, leased until until.
func (h *heldSet) add(id string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[id] = until
}

func (h *heldSet) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ids, id)
}

// list returns the deliveries held and the earliest end of their leases.
func (h *heldSet) list() (ids []string, earliest time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids = make([]string, 0, len(h.ids))
	for id, until := range h.ids {
		ids = append(ids, id)
		if earliest.IsZero() || until.Before(earliest) {
			earliest = until
		}
	}
	return ids, earliest
}

// renewed records that the leases of ids, those still held, last until until.
func (h *heldSet) renewed(ids []string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if old, ok := h.ids[id]; ok && until.After(old) {
			h.ids[id] = until
		}
	}
}

// logBurst says when deliveries start and stop being held back, so an operator can tell a backlog from a fault.
func (w *Worker) logBurst(held bool, burst *burstMeter, now time.Time) {
	if held {
		w.log.WithFields(logrus.Fields{"accepted_per_second": int(burst.lastRate), "in_flight": w.config.BurstConcurrency}).
			Info("burst of updates: holding deliveries back")
		return
	}
	w.log.WithField("burst_seconds", now.Sub(burst.since).Seconds()).Info("burst over: delivering the backlog")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// attempt pushes one delivery to the channels and targets that have not taken it, and decides what happens next:
// a retry while a channel waits for one, the outcome once every channel has settled.
func (w *Worker) attempt(ctx context.Context, d push.Delivery) finished {
	ctx, cancel := context.WithTimeout(correlation.WithID(ctx, d.CorrelationID), w.config.AttemptTimeout)
	defer cancel()
	a := w.pusher.Push(ctx, d)
	d.Progress = a.Progress
	if a.Pending && a.Throttled {
		// A channel's rate limit holds the update back and gives it a turn: no failure, so no attempt is spent
		// and the backoff does not grow.
		// At the time the channel gave: counted from now, the retry would come as late as the slowest other
		// channel made this attempt, and a turn taken late is lost (adapters/google's limiter).
		retryAt := a.RetryAt
		if retryAt.IsZero() {
			retryAt = time.Now().Add(a.RetryAfter)
		}
		return finished{delivery: d, retryAt: retryAt, lastErr: a.Why()}
	}
	d.Attempts++
	reason := ""
	switch {
	case a.Pending && d.Attempts < w.config.MaxAttempts:
		backoff := min(w.config.Backoff<<min(d.Attempts-1, 20), w.config.MaxBackoff)
		return finished{delivery: d, retryAt: time.Now().Add(max(backoff, a.RetryAfter)), lastErr: a.Why()}
	case a.Pending:
		reason = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, a.Why())
		w.countGivenUp(a)
		a = a.GiveUp(fmt.Sprintf("gave up after %d attempts", d.Attempts))
	case a.Failed():
		reason = "rejected: " + a.Why()
	}
	return finished{delivery: d, outcome: &pass.PushOutcome{
		Revision: d.Update.Revision, ScheduledEventID: d.Update.EventID, JourneyID: d.Update.JourneyID,
		CorrelationID: d.CorrelationID, Channels: a.Progress, Delivered: !a.Failed(), Reason: reason,
	}}
}

// countGivenUp counts as failed each channel of a that still waited for a retry when its attempts ran out.
func (w *Worker) countGivenUp(a push.Attempt) {
	if w.config.Outcomes == nil {
		return
	}
	for _, r := range a.Progress {
		if r.Outcome == "" {
			w.config.Outcomes.DeliveryOutcome(r.Channel, push.ChannelFailed)
		}
	}
}

// renewLoop renews the lease of every delivery held, every third of the lease, in one statement. It runs beside
// the flushes, so a flush that waits (for a lock, for SQLite's writer) does not let the leases of the deliveries
// still in flight run out.
//
// A renewal may take until the earliest of the leases it renews runs out: until then the rows are still this
// worker's, and a renewal that commits in time keeps them so. Giving up sooner, as it once did after a third of
// the lease, threw away a renewal that was merely waiting its turn for the database (SQLite's one writer, a
// PostgreSQL server short of CPU) and started the wait over at the back of the queue, which on a loaded machine
// let leases run out while their pushes were still in flight: another instance could then push them again.
func (w *Worker) renewLoop(ctx context.Context, held *heldSet) {
	ticker := time.NewTicker(w.config.Lease / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		ids, earliest := held.list()
		if len(ids) == 0 {
			continue
		}
		w.renew(ctx, held, ids, earliest)
	}
}

// renew extends the leases of ids, the earliest of which runs out at earliest, and warns when a lease may have
// run out first: then another instance may have claimed the delivery and pushed it too.
func (w *Worker) renew(ctx context.Context, held *heldSet, ids []string, earliest time.Time) {
	start := time.Now()
	// A lease that has run out already is renewed all the same (nobody may have taken the row yet), within a
	// third of the lease, as the next renewal comes then anyway.
	deadline := start.Add(w.config.Lease / 3)
	if earliest.After(deadline) {
		deadline = earliest
	}
	renewCtx, cancel := context.WithDeadline(ctx, deadline)
	err := w.queue.Renew(renewCtx, ids, w.config.Lease)
	cancel()
	if ctx.Err() != nil {
		return
	}
	end := time.Now()
	log := w.log.WithFields(logrus.Fields{"deliveries": len(ids), "renewal_ms": end.Sub(start).Milliseconds()})
	if err != nil {
		log.WithError(err).WithField("lease_ran_out", !end.Before(earliest)).
			Warn("renewing delivery leases failed; another instance may push the deliveries whose lease ran out")
		return
	}
	// Renew reads its clock after start: the leases last at least until start plus the lease.
	held.renewed(ids, start.Add(w.config.Lease))
	if !end.Before(earliest) {
		log.WithField("late_ms", end.Sub(earliest).Milliseconds()).
			Warn("delivery leases renewed after one had run out; another instance may have pushed it too")
	}
}

// flushLoop writes finished attempts in batches: outcomes and the removal of their rows in one transaction per
// batch, retries one row each. A slot is freed only once its delivery is written, so the pass's next update
// cannot be claimed before this one's outcome is stored.
func (w *Worker) flushLoop(done <-chan finished, slots <-chan struct{}, held *heldSet, tenants *tenantSlots) {
	var batch []finished
	ticker := time.NewTicker(w.config.FlushInterval)
	defer ticker.Stop()
	written := func(f finished) {
		held.remove(f.delivery.Update.EventID)
		tenants.give(f.delivery.Update.TenantID)
		w.inFlight.Add(-1)
		<-slots
	}
	flush := func() {
		for len(batch) > 0 {
			rest, err := w.flush(batch, written)
			batch = append(batch[:0], rest...)
			if err == nil {
				return
			}
			w.log.WithError(err).Warn("recording delivery outcomes failed; retrying")
			time.Sleep(time.Second)
		}
	}
	for {
		select {
		case f, ok := <-done:
			if !ok {
				flush()
				return
			}
			batch = append(batch, f)
			if len(batch) >= 500 {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// flush writes batch and calls written for each finished delivery it has written. It returns those it has not.
func (w *Worker) flush(batch []finished, written func(finished)) (rest []finished, err error) {
	ctx := context.Background()
	var outcomes, retries []finished
	var rescheduled []push.Rescheduled
	for _, f := range batch {
		if f.outcome != nil {
			outcomes = append(outcomes, f)
			continue
		}
		retries = append(retries, f)
		rescheduled = append(rescheduled, push.Rescheduled{Delivery: f.delivery, At: f.retryAt, LastError: f.lastErr})
	}
	// A retry is written once: written again after another instance claimed the row, it would hand that
	// instance's lease back. So the retries written are let go of before the outcomes are tried.
	if err := w.queue.RetryAll(ctx, rescheduled); err != nil {
		return append(outcomes, retries...), err
	}
	for _, f := range retries {
		written(f)
	}
	if len(outcomes) == 0 {
		return nil, nil
	}
	// Tenants and rows in one order, so that two flushes that overlap (a lease ran out) lock in the same order.
	slices.SortFunc(outcomes, func(a, b finished) int {
		ua, ub := a.delivery.Update, b.delivery.Update
		return strings.Compare(ua.TenantID+"\x00"+ua.EventID, ub.TenantID+"\x00"+ub.EventID)
	})
	var tenantIDs []string
	byTenant := map[string][]command.PassPushOutcome{}
	ids := make([]string, 0, len(outcomes))
	for _, f := range outcomes {
		u := f.delivery.Update
		if _, ok := byTenant[u.TenantID]; !ok {
			tenantIDs = append(tenantIDs, u.TenantID)
		}
		byTenant[u.TenantID] = append(byTenant[u.TenantID], command.PassPushOutcome{PassID: u.PassID, Outcome: *f.outcome})
		ids = append(ids, u.EventID)
	}
	err = w.queue.Finish(ctx, ids, func(ctx context.Context) error {
		for _, tenantID := range tenantIDs {
			if err := w.record.Handle(ctx, command.RecordPushOutcomes{TenantID: tenantID, Outcomes: byTenant[tenantID]}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return outcomes, err
	}
	for _, f := range outcomes {
		written(f)
	}
	return nil, nil
}
