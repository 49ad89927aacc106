package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/domain/pass"
)

const (
	// drainTimeout bounds the wait for every update's outcome after the last execute.
	drainTimeout = 5 * time.Minute
)

// tenantLoad is one tenant of a phase.
type tenantLoad struct {
	id       string
	issuer   string // empty without Google
	passIDs  []string
	google   issuerCalls
	patches  int // the fake's PATCH calls answered 200
	adds     int // the fake's addMessage calls answered 200
	messages int // objects showing exactly one message
	balances int // objects showing the update's balance
}

// phase is what one phase measured.
type phase struct {
	name       string
	google     bool
	tenants    []*tenantLoad
	updates    int
	start, end time.Time // first execute sent, last execute answered
	executeErr int
	answered   map[string]time.Time // passId → its execute answered
	delivered  map[string]time.Time // passId → its first webhook delivery
	apple      bool
	pushed     map[string]time.Time // passId → its device's first APNs push, with Apple
	emitted    int
	failed     int
	drained    time.Time // every outcome recorded
	complete   bool
	reason     string
	// cpu is the process's CPU time from the first execute to the last outcome; db what PostgreSQL counted then.
	cpu time.Duration
	db  dbWork
}

// runPhase adds the round's tenants (w1-1…, or g1-1… with Google), imports their passes, sends one execute per
// pass and waits for every outcome. With apple set every pass has a device registered for its updates. With env set
// the tenants have Google settings at o.rate, a class, and every pass saved in the fake; their issuers are the
// round's own.
func runPhase(ctx context.Context, o options, svc *benchkit.Service, rcv *receiver, apple *appleEnv, env *fakeEnv, gate *quotaGate, round int) (*phase, error) {
	p := &phase{google: env != nil, apple: apple != nil, updates: o.updates, answered: map[string]time.Time{}}
	channels := "webhook"
	if p.apple {
		channels += " + Apple"
	}
	p.name = fmt.Sprintf("%d: %s", round, channels)
	prefix := fmt.Sprintf("w%d", round)
	var wallet *googletest.Fake
	if p.google {
		p.name = fmt.Sprintf("%d: %s + Google", round, channels)
		prefix = fmt.Sprintf("g%d", round)
		wallet = gate.fake
	}
	benchkit.Logf("phase %s: %d tenants, %d updates", p.name, o.tenants, o.updates)
	for i := range o.tenants {
		t := &tenantLoad{id: fmt.Sprintf("%s-%d", prefix, i+1)}
		n := o.updates / o.tenants
		if i < o.updates%o.tenants {
			n++
		}
		for j := range n {
			t.passIDs = append(t.passIDs, fmt.Sprintf("%s-pass-%05d", t.id, j))
		}
		if err := addTenant(ctx, svc, rcv, t); err != nil {
			return nil, err
		}
		if p.google {
			t.issuer = fmt.Sprintf("3388%010d%05d", round, i+1)
			if err := setUpGoogle(ctx, o, svc, env, wallet, t); err != nil {
				return nil, err
			}
		}
		if err := importPasses(ctx, svc, t); err != nil {
			return nil, err
		}
		if p.apple {
			if err := apple.setUp(ctx, svc, t); err != nil {
				return nil, err
			}
		}
		p.tenants = append(p.tenants, t)
	}

	if svc.DB.Dialect.Name == sqldb.Postgres.Name {
		time.Sleep(statsSettle) // the setting up's counts are reported before the phase's are read
	}
	db := readDBWork(ctx, svc)
	cpu := benchkit.ProcessCPU()
	p.start = time.Now()
	sendExecutes(ctx, o, svc, p)
	p.end = time.Now()
	benchkit.Logf("phase %s: %d executes answered in %s (%d errors)", p.name, len(p.answered), p.end.Sub(p.start).Round(time.Millisecond), p.executeErr)

	tenantIDs := make([]string, len(p.tenants))
	for i, t := range p.tenants {
		tenantIDs[i] = t.id
	}
	deadline := time.Now().Add(drainTimeout)
	lastLog := time.Now()
	for {
		emitted, failed, err := outcomes(ctx, svc, tenantIDs)
		if err == nil {
			p.emitted, p.failed = emitted, failed
		}
		if p.emitted+p.failed >= len(p.answered) {
			p.drained, p.complete, p.cpu = time.Now(), true, benchkit.ProcessCPU()-cpu
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.reason = fmt.Sprintf("%d of %d outcomes after %s", p.emitted+p.failed, len(p.answered), drainTimeout)
			break
		}
		if time.Since(lastLog) > 5*time.Second {
			benchkit.Logf("phase %s: %d of %d outcomes", p.name, p.emitted+p.failed, len(p.answered))
			lastLog = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	benchkit.Logf("phase %s: all outcomes after %s", p.name, p.drained.Sub(p.start).Round(time.Millisecond))
	if db.known {
		time.Sleep(statsSettle)
		p.db = readDBWork(ctx, svc).minus(db)
	}

	var all []string
	for _, t := range p.tenants {
		all = append(all, t.passIDs...)
	}
	p.delivered, _ = rcv.delivered(all)
	if p.apple {
		p.pushed = map[string]time.Time{}
		pushed := apple.pushed()
		for _, id := range all {
			if at, ok := pushed[id]; ok {
				p.pushed[id] = at
			}
		}
	}
	if p.google {
		for _, t := range p.tenants {
			t.google = gate.of(t.issuer)
			for _, r := range wallet.Requests("") {
				if !strings.HasPrefix(r.ObjectID, t.issuer+".") || r.Status != http.StatusOK {
					continue
				}
				switch r.Call {
				case googletest.CallPatch:
					t.patches++
				case googletest.CallAddMessage:
					t.adds++
				}
			}
			for _, passID := range t.passIDs {
				id := objectID(t, passID)
				if len(wallet.Messages("loyalty", id)) == 1 {
					t.messages++
				}
				if obj := wallet.Object("loyalty", id); balanceOf(obj) == balanceFor(passID) {
					t.balances++
				}
			}
		}
	}
	return p, nil
}

func addTenant(ctx context.Context, svc *benchkit.Service, rcv *receiver, t *tenantLoad) error {
	_, err := admin(ctx, svc, http.MethodPut, "/api/admin/tenants/"+t.id, map[string]any{
		"sfmcSigningSecrets": []string{sfmcSecretOf(t.id)},
		"webhook":            map[string]string{"url": rcv.url, "secret": webhookSecret},
	})
	return err
}

// setUpGoogle gives the tenant Google settings with a service account the fake knows, a loyalty class, and
// saves every pass's object in the fake, as customers who added their passes.
func setUpGoogle(ctx context.Context, o options, svc *benchkit.Service, env *fakeEnv, wallet *googletest.Fake, t *tenantLoad) error {
	keyFile := wallet.ServiceAccount(env, "passpush@"+t.id+".iam.gserviceaccount.com")
	if _, err := admin(ctx, svc, http.MethodPut, "/api/admin/tenants/"+t.id+"/google", map[string]any{
		"issuerId": t.issuer, "serviceAccount": json.RawMessage(keyFile), "rate": o.rate,
	}); err != nil {
		return err
	}
	classID := t.issuer + "." + strings.ReplaceAll(t.id, "-", "_") + "_loyalty"
	if _, err := admin(ctx, svc, http.MethodPut, "/api/admin/tenants/"+t.id+"/google/classes/loyalty", map[string]any{
		"objectType": "loyalty", "classId": classID,
		"template": map[string]any{"state": "ACTIVE", "accountId": "{{passId}}",
			"loyaltyPoints": map[string]any{"label": "Points", "balance": map[string]any{"string": "{{points}}"}}},
	}); err != nil {
		return err
	}
	for _, passID := range t.passIDs {
		wallet.PutObject("loyalty", objectID(t, passID), map[string]any{"classId": classID, "state": "ACTIVE"})
	}
	return nil
}

// objectID is the pass's Google object id: {issuerId}.{tenantId}_{passId}.
func objectID(t *tenantLoad, passID string) string { return t.issuer + "." + t.id + "_" + passID }

// balanceFor is the points balance the update of a pass sets.
func balanceFor(passID string) string { return "upd-" + passID[strings.LastIndex(passID, "-")+1:] }

func balanceOf(obj map[string]any) any {
	points, _ := obj["loyaltyPoints"].(map[string]any)
	balance, _ := points["balance"].(map[string]any)
	return balance["string"]
}

// importPasses registers the tenant's passes through the application, as pass import does, and waits for the
// read model to show the last.
func importPasses(ctx context.Context, svc *benchkit.Service, t *tenantLoad) error {
	cmd := command.ImportPasses{TenantID: t.id}
	for _, id := range t.passIDs {
		cmd.Passes = append(cmd.Passes, command.RegisterPass{TenantID: t.id, PassID: id,
			Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "0"}}})
	}
	res, err := svc.Svc.App.Commands.ImportPasses.Handle(ctx, cmd)
	if err != nil {
		return fmt.Errorf("import passes of %s: %w", t.id, err)
	}
	if res.Last == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = svc.Svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: t.id, PassID: res.Last.PassID, MinStreamVersion: res.Last.StreamVersion})
	return err
}

// sendExecutes sends one signed execute per pass, the tenants' passes interleaved, o.concurrency at a time.
func sendExecutes(ctx context.Context, o options, svc *benchkit.Service, p *phase) {
	type call struct{ tenant, passID string }
	var calls []call
	for j := 0; ; j++ {
		added := false
		for _, t := range p.tenants {
			if j < len(t.passIDs) {
				calls = append(calls, call{t.id, t.passIDs[j]})
				added = true
			}
		}
		if !added {
			break
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.concurrency
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	work := make(chan call)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for c := range work {
				err := execute(ctx, client, svc.URL, c.tenant, c.passID, o.message)
				mu.Lock()
				if err != nil {
					p.executeErr++
					if p.executeErr <= 3 {
						benchkit.Logf("execute %s/%s: %v", c.tenant, c.passID, err)
					}
				} else {
					p.answered[c.passID] = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range calls {
		work <- c
	}
	close(work)
	wg.Wait()
}

// execute sends Journey Builder's execute call for one contact entry of one pass.
func execute(ctx context.Context, client *http.Client, baseURL, tenantID, passID string, message bool) error {
	args := []map[string]any{{"passId": passID}, {"points": balanceFor(passID)}}
	if message {
		args = append(args, map[string]any{"message": "Your balance is now " + balanceFor(passID)})
	}
	token, err := benchkit.ExecuteToken(sfmcSecretOf(tenantID), "entry-"+passID, "contact-"+passID, args...)
	if err != nil {
		return err
	}
	status, body, err := benchkit.PostExecute(ctx, client, baseURL, tenantID, token)
	if err != nil {
		return err
	}
	if status != http.StatusOK || !strings.Contains(string(body), `"passes":1`) {
		return fmt.Errorf("%d %s", status, body)
	}
	return nil
}

// latencies are, for each update in reached (passId → when it first reached a channel: p.delivered, p.pushed),
// the time from its execute's answer to then.
func (p *phase) latencies(reached map[string]time.Time) []time.Duration {
	var out []time.Duration
	for id, at := range reached {
		if answered, ok := p.answered[id]; ok {
			out = append(out, at.Sub(answered))
		}
	}
	slices.Sort(out)
	return out
}

// last is when the last update of reached got there.
func last(reached map[string]time.Time) time.Time {
	var last time.Time
	for _, at := range reached {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// throughput is the updates of reached a second, from the first execute to the last of them.
func (p *phase) throughput(reached map[string]time.Time) float64 {
	span := last(reached).Sub(p.start).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(reached)) / span
}
