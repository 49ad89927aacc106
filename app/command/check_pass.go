package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

// The branches of the "Wallet pass?" split: its config.json's outcomes and execute's branchResult.
const (
	BranchInstalled    = "installed"
	BranchNotInstalled = "not_installed"
	BranchNoPass       = "no_pass"
)

// CheckPass is one execute call of the "Wallet pass?" split: which branch the contact takes, and the install
// links of its pass. It is a command, not a query, because each decision is recorded (PassCheckDecided), and
// because it makes install links with MakeInstallLinkHandler.
type CheckPass struct {
	TenantID string
	Match    PassMatch
	// The journey the call comes from, for the decision's event.
	JourneyID, ActivityID, DefinitionInstanceID, ActivityInstanceID string
}

// PassCheck is the decision: the branch, and for the first matching pass by id, where it is installed and its
// links. ApplePath is the Apple install link's path and query (the port puts its public base URL before it);
// it and GoogleLink are empty for a wallet the tenant has not set up.
type PassCheck struct {
	Branch          string
	PassID          string
	AppleInstalled  bool
	GoogleInstalled bool
	ApplePath       string
	GoogleLink      string
}

// AppleInstalledMatcher matches passes as PassMatcher does and says of each whether Apple Wallet holds it: at
// least one device is registered for it. One call for both, since the split needs both for every contact.
type AppleInstalledMatcher interface {
	MatchAppleInstalled(ctx context.Context, tenantID string, m PassMatch) ([]MatchedPass, error)
}

// MatchedPass is a pass that matched, and whether a device is registered for it (when that was asked).
type MatchedPass struct {
	PassID         string
	AppleInstalled bool
}

// AppleSetUp says whether Apple Wallet is set up for a tenant (adapters/apple).
type AppleSetUp interface {
	// SetUp reports whether the tenant has an Apple certificate, without which no Apple link is made.
	SetUp(ctx context.Context, tenantID string) (bool, error)
}

// GoogleInstallState is what the Google channel last learnt of a pass's object: saved by someone (the object
// exists and hasUsers is true) or not, and when.
type GoogleInstallState struct {
	Installed bool
	CheckedAt time.Time
}

// GoogleInstalls keeps the Google install state of passes (adapters/google).
type GoogleInstalls interface {
	// SetUp reports whether the tenant has Google settings; without them there is no state, refresh or link.
	SetUp(ctx context.Context, tenantID string) (bool, error)
	// InstallStates returns the last known state of each pass that has one.
	InstallStates(ctx context.Context, tenantID string, passIDs []string) (map[string]GoogleInstallState, error)
	// RefreshInstallState asks the Wallet API, within the tenant's rate limit, and stores the answer. Its error
	// wraps push.ErrNotSetUp when the tenant has no Google settings or no class for the pass's type.
	RefreshInstallState(ctx context.Context, tenantID, passID string) (bool, error)
}

// PassCheckLog records the split's decisions in the event store.
type PassCheckLog interface {
	Record(ctx context.Context, tenantID string, d activity.PassCheckDecided) error
}

// CheckPassConfig tunes CheckPassHandler. Zero fields take the defaults.
type CheckPassConfig struct {
	// GoogleMaxAge is how old a Google install state may be before a check asks the Wallet API again. Default an
	// hour.
	GoogleMaxAge time.Duration
	// GoogleRefreshTimeout bounds the Wallet API's GETs of one check, together: past it the last known states
	// are used, so the split never waits on Google longer. Default a second.
	GoogleRefreshTimeout time.Duration
	// Now is the clock the states' age is measured on. Default time.Now.
	Now func() time.Time
}

func (c *CheckPassConfig) setDefaults() {
	if c.GoogleMaxAge == 0 {
		c.GoogleMaxAge = time.Hour
	}
	if c.GoogleRefreshTimeout == 0 {
		c.GoogleRefreshTimeout = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a config the handler cannot work with.
func (c CheckPassConfig) Validate() error {
	if c.GoogleMaxAge < 0 || c.GoogleRefreshTimeout < 0 {
		return errors.New("check pass config: the Google state's age and refresh timeout must not be negative")
	}
	return nil
}

// CheckPassHandler handles CheckPass.
type CheckPassHandler struct {
	passes      AppleInstalledMatcher
	apple       AppleSetUp
	google      GoogleInstalls
	appleLinks  MakeInstallLinkHandler
	googleLinks query.GoogleSaveLinkHandler
	log         PassCheckLog
	config      CheckPassConfig
}

// NewCheckPassHandler returns a handler that matches passes and their Apple installs in passes, reads whether
// the tenant has Apple set up from apple and the Google installs from google, makes the links with appleLinks
// and googleLinks and records its decisions in log.
func NewCheckPassHandler(passes AppleInstalledMatcher, apple AppleSetUp, google GoogleInstalls, appleLinks MakeInstallLinkHandler,
	googleLinks query.GoogleSaveLinkHandler, log PassCheckLog, config CheckPassConfig,
) (CheckPassHandler, error) {
	if passes == nil || apple == nil || google == nil || log == nil {
		return CheckPassHandler{}, errors.New("new check pass handler: nil pass matcher, install reader or decision log")
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return CheckPassHandler{}, err
	}
	return CheckPassHandler{passes: passes, apple: apple, google: google, appleLinks: appleLinks, googleLinks: googleLinks,
		log: log, config: config}, nil
}

// Handle decides the call's branch and records the decision. No matching pass is the no_pass branch, not an
// error. Bad identifiers wrap pass.ErrIdentifiers.
func (h CheckPassHandler) Handle(ctx context.Context, cmd CheckPass) (PassCheck, error) {
	if err := cmd.Match.Validate(); err != nil {
		return PassCheck{}, err
	}
	matched, err := h.passes.MatchAppleInstalled(ctx, cmd.TenantID, cmd.Match)
	if err != nil {
		return PassCheck{}, fmt.Errorf("match passes: %w", err)
	}
	slices.SortFunc(matched, func(a, b MatchedPass) int { return strings.Compare(a.PassID, b.PassID) })
	check := PassCheck{Branch: BranchNoPass}
	if len(matched) > 0 {
		if check, err = h.check(ctx, cmd.TenantID, matched); err != nil {
			return PassCheck{}, err
		}
	}
	if err := h.log.Record(ctx, cmd.TenantID, activity.PassCheckDecided{
		Branch: check.Branch, PassID: check.PassID, JourneyID: cmd.JourneyID, ActivityID: cmd.ActivityID,
		DefinitionInstanceID: cmd.DefinitionInstanceID, ActivityInstanceID: cmd.ActivityInstanceID,
	}); err != nil {
		return PassCheck{}, err
	}
	return check, nil
}

// check decides for the matching passes, sorted by id: the first is reported, and any installed one makes the
// branch installed.
func (h CheckPassHandler) check(ctx context.Context, tenantID string, matched []MatchedPass) (PassCheck, error) {
	ids := make([]string, len(matched))
	for i, p := range matched {
		ids[i] = p.PassID
	}
	googleSetUp, err := h.google.SetUp(ctx, tenantID)
	if err != nil {
		return PassCheck{}, fmt.Errorf("google settings of tenant %s: %w", tenantID, err)
	}
	google := map[string]bool{}
	if googleSetUp {
		if google, err = h.googleInstalled(ctx, tenantID, ids); err != nil {
			return PassCheck{}, err
		}
	}
	c := PassCheck{Branch: BranchNotInstalled, PassID: ids[0], AppleInstalled: matched[0].AppleInstalled, GoogleInstalled: google[ids[0]]}
	installed := false
	for _, p := range matched {
		installed = installed || p.AppleInstalled || google[p.PassID]
	}
	if installed {
		c.Branch = BranchInstalled
	}
	if c.ApplePath, err = h.appleLink(ctx, tenantID, c.PassID); err != nil {
		return PassCheck{}, err
	}
	if googleSetUp {
		if c.GoogleLink, err = h.googleLinks.Handle(ctx, query.GoogleSaveLink{TenantID: tenantID, PassID: c.PassID}); err != nil {
			return PassCheck{}, err
		}
	}
	return c, nil
}

// appleLink is the pass's install link, with the default lifetime, or "" when the tenant has no Apple
// certificate: a link to a pass that can't be signed would only fail.
func (h CheckPassHandler) appleLink(ctx context.Context, tenantID, passID string) (string, error) {
	setUp, err := h.apple.SetUp(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("apple settings of tenant %s: %w", tenantID, err)
	}
	if !setUp {
		return "", nil
	}
	link, err := h.appleLinks.Handle(ctx, MakeInstallLink{TenantID: tenantID, PassID: passID})
	if errors.Is(err, pass.ErrNotFound) {
		// Deleted between the match and now: the link would not open.
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return link.ApplePath, nil
}

// googleInstalled is each pass's Google install state: the last known one, refreshed from the Wallet API when
// older than GoogleMaxAge. The refreshes of one check share GoogleRefreshTimeout; a refresh that fails or runs
// out of time leaves the last known state, none meaning not installed.
func (h CheckPassHandler) googleInstalled(ctx context.Context, tenantID string, ids []string) (map[string]bool, error) {
	states, err := h.google.InstallStates(ctx, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("google install states: %w", err)
	}
	installed := make(map[string]bool, len(ids))
	var refreshCtx context.Context
	now := h.config.Now()
	for _, id := range ids {
		state, known := states[id]
		installed[id] = state.Installed
		if known && now.Sub(state.CheckedAt) <= h.config.GoogleMaxAge {
			continue
		}
		if refreshCtx == nil {
			var cancel context.CancelFunc
			refreshCtx, cancel = context.WithTimeout(ctx, h.config.GoogleRefreshTimeout)
			defer cancel()
		}
		if refreshCtx.Err() != nil {
			continue
		}
		// An error, push.ErrNotSetUp among them, leaves the last known state.
		if fresh, err := h.google.RefreshInstallState(refreshCtx, tenantID, id); err == nil {
			installed[id] = fresh
		}
	}
	return installed, nil
}
