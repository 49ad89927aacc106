package google

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"google.golang.org/api/walletobjects/v1"
)

// DefaultAPIURL is the Wallet API's base URL; PASSPUSH_GOOGLE_API_URL replaces it for tests and staging.
const DefaultAPIURL = "https://walletobjects.googleapis.com/"

// DefaultCallTimeout bounds one call to the Wallet API or its token endpoint; a timeout is retried.
const DefaultCallTimeout = 10 * time.Second

// ObjectBuilder builds the object of a pass, as its update patches it: (*Objects).Build. Its error wraps
// push.ErrNotSetUp when the tenant has no Google settings or no class for the pass's type.
type ObjectBuilder interface {
	Build(ctx context.Context, tenantID, passID string) (Object, error)
	// BuildFor is Build with the tenant's settings given: those its client was made from.
	BuildFor(ctx context.Context, account *Account, tenantID, passID string) (Object, error)
	// HasClass reports whether the tenant has a class for passType: whether Build can build its passes' objects.
	HasClass(ctx context.Context, tenantID, passType string) (bool, error)
}

// ChannelConfig tunes the Google channel. Zero fields take the defaults.
type ChannelConfig struct {
	// APIURL is the Wallet API's base URL, DefaultAPIURL unless set.
	APIURL string
	// CallTimeout bounds one call to the API or to the token endpoint, DefaultCallTimeout unless set.
	CallTimeout time.Duration
	// Transport carries every tenant's calls; a clone of http.DefaultTransport unless set.
	Transport http.RoundTripper
	// MaxTurnWait is the longest a push waits for its turn under the tenant's rate limit, DefaultMaxTurnWait unless
	// set. A later turn is reserved and the delivery comes back for it, so that updates queued behind Google's
	// quota don't hold the delivery slots the webhook and Apple need.
	MaxTurnWait time.Duration
}

// DefaultMaxTurnWait kept the webhook's throughput with Google beside it in bench/google (101% of without it, where
// a quarter second kept 88% and a second 65%).
const DefaultMaxTurnWait = 50 * time.Millisecond

// Channel updates passes' Google Wallet objects: a PATCH of the object built from the pass's latest data, then
// the update's message, if it has one, with addMessage. A pass has one target on it, its object.
type Channel struct {
	objects     ObjectBuilder
	clients     *credentials.Clients[*walletClient]
	messages    messages
	states      InstallStates
	maxTurnWait time.Duration
	built       *builtObjects
}

var (
	_ push.Channel     = (*Channel)(nil)
	_ push.LatestOnly  = (*Channel)(nil)
	_ push.RateLimited = (*Channel)(nil)
)

// NewChannel returns the Google channel: objects built by objects, with each tenant's settings read from store and
// its messages and the instances that call the API kept in db.
func NewChannel(db *sqldb.DB, store *credentials.Store, objects ObjectBuilder, cfg ChannelConfig) (*Channel, error) {
	if db == nil || store == nil || objects == nil {
		return nil, errors.New("new google channel: db, credential store and object builder are required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		// The client's paths are relative to the base: without the slash its last segment would be dropped.
		cfg.APIURL += "/"
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxTurnWait == 0 {
		cfg.MaxTurnWait = DefaultMaxTurnWait
	}
	if cfg.Transport == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 64 // every tenant's calls go to one host
		cfg.Transport = transport
	}
	factory := clientFactory{apiURL: cfg.APIURL, timeout: cfg.CallTimeout, transport: cfg.Transport, callers: newCallers(db)}
	clients, err := credentials.NewClients(store, Kind, factory.build, credentials.ClientsConfig{})
	if err != nil {
		return nil, err
	}
	stmts := sqldb.NewStatements(db, db.DB)
	return &Channel{objects: objects, clients: clients, messages: messages{db: db, stmts: stmts, now: time.Now},
		states: InstallStates{db: db, stmts: stmts, now: time.Now}, maxTurnWait: cfg.MaxTurnWait,
		built: newBuiltObjects()}, nil
}

// Kind implements push.Channel.
func (*Channel) Kind() string { return Kind }

// LatestOnly implements push.LatestOnly: the object needs only the pass's latest state.
func (*Channel) LatestOnly() bool { return true }

// Targets implements push.Channel: the pass's object, when its tenant has Google settings and a class for its
// type.
func (c *Channel) Targets(ctx context.Context, tenantID, passID string) ([]push.Target, error) {
	// The client cache remembers a tenant without settings for a while, so such a tenant costs no query here.
	client, err := c.clients.Get(ctx, tenantID, DefaultName)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, push.ErrNotSetUp
	}
	obj, err := c.build(ctx, client, err, tenantID, passID)
	switch {
	case errors.Is(err, push.ErrNotSetUp):
		return nil, push.ErrNotSetUp
	case err != nil:
		return nil, fmt.Errorf("google object of pass %s: %w", passID, err)
	}
	c.built.put(tenantID, passID, obj, time.Now())
	return []push.Target{{ID: obj.ID, Credential: DefaultName}}, nil
}

// build builds the pass's object with the settings of the tenant's client, the one its push makes the calls
// with; without a client (settings that make none) from the stored settings, whose error says why.
func (c *Channel) build(ctx context.Context, client *walletClient, clientErr error, tenantID, passID string) (Object, error) {
	if clientErr != nil {
		return c.objects.Build(ctx, tenantID, passID)
	}
	return c.objects.BuildFor(ctx, client.account, tenantID, passID)
}

// HoldBack implements push.RateLimited: the update's turn under the tenant's rate limit, when it is further away
// than MaxTurnWait. Its answer costs no read while the update holds a turn or the limiter has room, and the
// class's otherwise: a tenant's pass type without a class is not pushed, and takes no turn.
func (c *Channel) HoldBack(ctx context.Context, u push.Update) time.Duration {
	client, err := c.clients.Get(ctx, u.TenantID, DefaultName)
	if err != nil {
		return 0
	}
	after, err := client.limiter.Hold(ctx, u.EventID, callsOf(u), c.maxTurnWait, func() bool {
		ok, err := c.objects.HasClass(ctx, u.TenantID, u.PassType)
		return ok && err == nil
	})
	if err != nil || after <= 0 {
		return 0
	}
	return c.comeBack(after)
}

// comeBack is when a delivery held back for a turn after this long comes back: a little before the turn, which
// it then waits for, so that the claim's delay does not make it late (a turn taken late is lost: lateTurn).
func (c *Channel) comeBack(after time.Duration) time.Duration {
	return after - c.maxTurnWait/2
}

// callsOf is how many calls the update's push makes: the patch, and the message when it has one.
func callsOf(u push.Update) int {
	if u.Message != "" {
		return 2
	}
	return 1
}

// Push implements push.Channel. It patches the object with the pass's latest data, then adds the update's
// message with the update's eventId as its id, so that a retry does not show it twice. 404 means the customer
// never saved the pass (not installed); 429, 5xx and timeouts are retried; 401, 403 and any other 4xx are final.
func (c *Channel) Push(ctx context.Context, t push.Target, u push.Update) push.Outcome {
	obj, ok := c.built.take(u.TenantID, u.PassID, time.Now())
	var err error
	if !ok || obj.ID != t.ID {
		client, clientErr := c.clients.Get(ctx, u.TenantID, t.Credential)
		obj, err = c.build(ctx, client, clientErr, u.TenantID, u.PassID)
	}
	switch {
	case errors.Is(err, push.ErrNotSetUp):
		return push.Outcome{Kind: push.Gone, Reason: "the tenant's Google settings or the pass type's class were removed"}
	case err != nil:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("build google object: %v", err)}
	}
	client, err := c.clients.Get(ctx, u.TenantID, t.Credential)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return push.Outcome{Kind: push.Gone, Reason: "the tenant's Google settings were removed"}
	case errors.Is(err, ErrInvalidSettings):
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("google settings: %v", err)}
	case err != nil:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("google client: %v", err)}
	}
	api, ok := objectAPIOf(client.service, obj.Type)
	if !ok {
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("unknown google object type %q", obj.Type)}
	}
	body, err := json.Marshal(obj.Body)
	if err != nil {
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("encode google object: %v", err)}
	}
	// The token first: the calls that wait for a token fetch would go out together once it comes, on top of the
	// turns the limiter spaced them by. A fresh token is the cached one; a fetch happens about once an hour.
	if _, err := client.tokens.Token(); err != nil {
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("google oauth token: %v", err)}
	}
	after, err := client.limiter.Take(ctx, u.EventID, callsOf(u), c.maxTurnWait)
	switch {
	case err != nil:
		return push.Outcome{Kind: push.Retry, Reason: err.Error()}
	case after > 0:
		return push.Outcome{Kind: push.Retry, Reason: "held back by the tenant's Google rate limit", After: c.comeBack(after)}
	}
	hasUsers, err := api.patch(ctx, obj.ID, body)
	if statusOf(err) == http.StatusNotFound {
		c.states.record(ctx, u.TenantID, u.PassID, false)
	}
	if err != nil {
		return outcomeOf("patch", err)
	}
	if u.Message == "" {
		c.states.record(ctx, u.TenantID, u.PassID, hasUsers)
		return push.Outcome{Kind: push.Delivered}
	}
	return c.addMessage(ctx, api, obj.ID, u, hasUsers)
}

// addMessage adds the update's message to the object, in the turn its patch reserved: TEXT_AND_NOTIFY while the
// pass has had fewer than 3 notifying messages in the last 24 hours, TEXT after that. The install state the patch
// answered is stored in the transaction that reserves the message.
func (c *Channel) addMessage(ctx context.Context, api objectAPI, objectID string, u push.Update, installed bool) push.Outcome {
	c.states.stmts.Prepare(ctx, recordInstallState)
	notify, err := c.messages.reserve(ctx, u.TenantID, u.PassID, u.EventID, func(ctx context.Context, tx *sql.Tx) error {
		return c.states.recordIn(ctx, tx, u.TenantID, u.PassID, installed)
	})
	if err != nil {
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("count google messages: %v", err)}
	}
	messageType := MessageText
	if notify {
		messageType = MessageTextAndNotify
	}
	err = api.addMessage(ctx, objectID, &walletobjects.AddMessageRequest{Message: &walletobjects.Message{
		Id: u.EventID, Header: u.Message, Body: u.Message, MessageType: messageType,
	}})
	if statusOf(err) == http.StatusConflict {
		// An earlier attempt added it and its answer was lost: the message is there, once.
		return push.Outcome{Kind: push.Delivered}
	}
	if err != nil {
		o := outcomeOf("add message", err)
		if o.Kind != push.Retry {
			// The message will never be shown: it does not use up one of the day's notifications.
			if releaseErr := c.messages.release(ctx, u.TenantID, u.PassID, u.EventID); releaseErr != nil {
				o.Reason += fmt.Sprintf(" (and forgetting the message failed: %v)", releaseErr)
			}
		}
		return o
	}
	return push.Outcome{Kind: push.Delivered}
}

// SetUp implements command.GoogleInstalls from the client cache, which remembers a tenant without settings for a
// while: the split asks it on every call.
func (c *Channel) SetUp(ctx context.Context, tenantID string) (bool, error) {
	_, err := c.clients.Get(ctx, tenantID, DefaultName)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return false, nil
	case errors.Is(err, ErrInvalidSettings):
		// Settings that can't make a client can't sign a link either; the split goes on without Google.
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// InstallStates implements command.GoogleInstalls' read: the states the channel's answers left.
func (c *Channel) InstallStates(ctx context.Context, tenantID string, passIDs []string) (map[string]command.GoogleInstallState, error) {
	// A tenant without Google settings has no states: the client cache says so without a query, on the split's
	// path.
	if _, err := c.clients.Get(ctx, tenantID, DefaultName); errors.Is(err, credentials.ErrNotFound) {
		return map[string]command.GoogleInstallState{}, nil
	}
	return c.states.get(ctx, tenantID, passIDs)
}

// refreshTurnWait is the longest a refresh waits for a turn under the tenant's rate limit: the split that asks
// waits on it, and the last known state does without.
const refreshTurnWait = 100 * time.Millisecond

// RefreshInstallState implements command.GoogleInstalls: a GET of the pass's object, through the tenant's client
// and within its rate limit, whose answer is stored. A pass without an object (404) is not installed. Its error
// wraps push.ErrNotSetUp when the tenant has no Google settings or no class for the pass's type.
func (c *Channel) RefreshInstallState(ctx context.Context, tenantID, passID string) (bool, error) {
	if _, err := c.clients.Get(ctx, tenantID, DefaultName); errors.Is(err, credentials.ErrNotFound) {
		return false, push.ErrNotSetUp
	}
	obj, err := c.objects.Build(ctx, tenantID, passID)
	if err != nil {
		return false, fmt.Errorf("google object of pass %s: %w", passID, err)
	}
	client, err := c.clients.Get(ctx, tenantID, DefaultName)
	if err != nil {
		return false, fmt.Errorf("google client: %w", err)
	}
	api, ok := objectAPIOf(client.service, obj.Type)
	if !ok {
		return false, fmt.Errorf("unknown google object type %q", obj.Type)
	}
	if !client.limiter.TryTake(ctx, refreshTurnWait) {
		return false, errors.New("held back by the tenant's Google rate limit")
	}
	hasUsers, err := api.get(ctx, obj.ID)
	if statusOf(err) == http.StatusNotFound {
		hasUsers, err = false, nil
	}
	if err != nil {
		return false, fmt.Errorf("google get: %w", err)
	}
	// The answer is stored even when the caller has stopped waiting for it: the next split uses it.
	c.states.record(context.WithoutCancel(ctx), tenantID, passID, hasUsers)
	return hasUsers, nil
}
