package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// auditCounter pages through the audit log for one event type, picking up where it left off.
type auditCounter struct {
	client              *http.Client
	baseURL, adminToken string
	after               int64
	count               int
	last                time.Time // latest occurredAt: when the last event was stored
	pages               int
	// onEvent, when set, sees every event's occurredAt and data.
	onEvent func(at time.Time, data json.RawMessage)
}

func newAuditCounter(baseURL, tenantID, eventType, adminToken string) *auditCounter {
	q := url.Values{"type": {eventType}, "limit": {"1000"}}
	return &auditCounter{
		client:     &http.Client{Timeout: 30 * time.Second},
		baseURL:    baseURL + "/api/" + tenantID + "/audit?" + q.Encode(),
		adminToken: adminToken,
	}
}

func (a *auditCounter) poll(ctx context.Context) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.baseURL+"&after="+strconv.FormatInt(a.after, 10), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+a.adminToken)
		res, err := a.client.Do(req)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		_ = res.Body.Close()
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("audit: %d %s", res.StatusCode, body)
		}
		var page struct {
			Events []struct {
				Position   int64           `json:"position"`
				OccurredAt time.Time       `json:"occurredAt"`
				Data       json.RawMessage `json:"data"`
			} `json:"events"`
			Next *int64 `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		a.pages++
		for _, e := range page.Events {
			a.count++
			a.after = max(a.after, e.Position)
			if e.OccurredAt.After(a.last) {
				a.last = e.OccurredAt
			}
			if a.onEvent != nil {
				a.onEvent(e.OccurredAt, e.Data)
			}
		}
		if page.Next == nil || len(page.Events) == 0 {
			return nil
		}
	}
}

type drainResult struct {
	complete       bool
	reason         string // why it stopped waiting when not complete
	auditCaughtUp  time.Time
	emitted        *auditCounter
	failed         *auditCounter
	receiver       receiverStats
	atExecuteEnd   receiverStats
	auditErrors    int
	lastAuditError error
	emittedAt      map[string]time.Time // by the PassUpdateScheduled event id
}

// waitForDeliveries waits until the receiver has every scheduled update and the audit log has a
// PushUpdateEmitted for each, or until the drain deadline passes or nothing moves for the stall timeout.
func waitForDeliveries(ctx context.Context, o options, svc runningService, tenantID, adminToken string, load loadResult, rcv *receiver) drainResult {
	d := drainResult{
		emitted:      newAuditCounter(svc.baseURL(), tenantID, "PushUpdateEmitted", adminToken),
		failed:       newAuditCounter(svc.baseURL(), tenantID, "PushUpdateFailed", adminToken),
		atExecuteEnd: rcv.stats(),
		emittedAt:    make(map[string]time.Time, load.scheduled),
	}
	d.emitted.onEvent = func(at time.Time, data json.RawMessage) {
		var e struct {
			ScheduledEventID string `json:"scheduledEventId"`
		}
		if json.Unmarshal(data, &e) == nil && e.ScheduledEventID != "" {
			d.emittedAt[e.ScheduledEventID] = at
		}
	}
	want := load.scheduled
	deadline := load.end.Add(o.drainTimeout)
	lastProgress := time.Now()
	lastUnique, lastEmitted := -1, -1
	var lastPoll time.Time
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d.receiver = rcv.stats()
		now := time.Now()
		// The audit is polled twice a second while deliveries are under way, and as often as it can be once
		// the receiver has them all: the occurredAt of each event gives the exact time anyway.
		interval := 500 * time.Millisecond
		if d.receiver.unique >= want {
			interval = 100 * time.Millisecond
		}
		if now.Sub(lastPoll) >= interval {
			lastPoll = now
			if err := d.emitted.poll(ctx); err != nil {
				d.auditErrors++
				d.lastAuditError = err
			}
			if d.emitted.count >= want && d.auditCaughtUp.IsZero() {
				d.auditCaughtUp = time.Now()
			}
		}
		if d.receiver.unique >= want && d.emitted.count >= want {
			d.complete = true
			break
		}
		if d.receiver.unique != lastUnique || d.emitted.count != lastEmitted {
			lastUnique, lastEmitted = d.receiver.unique, d.emitted.count
			lastProgress = now
		}
		if now.Sub(lastProgress) > o.stallTimeout {
			d.reason = fmt.Sprintf("nothing delivered or emitted for %s", o.stallTimeout)
			break
		}
		if now.After(deadline) {
			d.reason = fmt.Sprintf("drain deadline of %s after the last execute passed", o.drainTimeout)
			break
		}
		select {
		case <-ctx.Done():
			d.reason = ctx.Err().Error()
			return d
		case <-tick.C:
		}
	}
	if err := d.failed.poll(ctx); err != nil {
		d.auditErrors++
		d.lastAuditError = err
	}
	return d
}
