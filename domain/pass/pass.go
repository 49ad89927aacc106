// Package pass holds the wallet pass aggregate: what a pass is, which changes it accepts and the events they
// record. It does no I/O.
package pass

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalid is wrapped by every validation error of this package, so ports can answer 400.
var ErrInvalid = errors.New("invalid pass")

// ErrNotFound is returned by read models and repositories for a pass the tenant does not have.
var ErrNotFound = errors.New("pass not found")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// ValidateID checks a pass id: 1–128 characters, letters, digits and . _ : @ -, so it is safe in a URL path.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: passId %q must be 1-128 letters, digits or . _ : @ -, starting with a letter or digit", ErrInvalid, id)
	}
	return nil
}

// Details are the attributes a pass is registered with.
type Details struct {
	PassType string            `json:"passType"`
	Email    string            `json:"email"`
	CustomID string            `json:"customId"`
	Data     map[string]string `json:"data"`
}

// Validate checks the details of a registration.
func (d Details) Validate() error {
	if strings.TrimSpace(d.PassType) == "" {
		return fmt.Errorf("%w: passType is required", ErrInvalid)
	}
	if len(d.PassType) > 255 || len(d.Email) > 320 || len(d.CustomID) > 255 {
		return fmt.Errorf("%w: passType, email or customId is too long", ErrInvalid)
	}
	if d.Email != "" && !strings.Contains(d.Email, "@") {
		return fmt.Errorf("%w: email %q is not an email address", ErrInvalid, d.Email)
	}
	if err := ValidateText(d.PassType, d.Email, d.CustomID); err != nil {
		return err
	}
	return validateFields(d.Data)
}

// The caps on a pass's data. They bound what one pass costs everywhere it goes (the event store, the read
// model, each delivery's row and webhook body, the wallet's pass), so a caller cannot make one pass as large as
// the request body allows, and the webhook of each update carries the whole data. They hold for every way data
// reaches a pass: registration (PUT, import) and journey updates, which merge fields into the data.
const (
	MaxFields          = 100
	MaxFieldNameBytes  = 64
	MaxFieldValueBytes = 2 << 10
)

// validateFields checks a pass's data, or an update's fields: the caps, names that are not blank, and no NUL.
// Each refusal names the cap it breaks.
func validateFields(fields map[string]string) error {
	if len(fields) > MaxFields {
		return fmt.Errorf("%w: data has %d fields, more than the limit of %d fields", ErrInvalid, len(fields), MaxFields)
	}
	for k, v := range fields {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("%w: a field name is empty", ErrInvalid)
		}
		if len(k) > MaxFieldNameBytes {
			return fmt.Errorf("%w: field name %q is %d bytes, more than the limit of %d bytes", ErrInvalid,
				k[:MaxFieldNameBytes]+"…", len(k), MaxFieldNameBytes)
		}
		if len(v) > MaxFieldValueBytes {
			return fmt.Errorf("%w: the value of field %q is %d bytes, more than the limit of %d bytes (2 KiB)",
				ErrInvalid, k, len(v), MaxFieldValueBytes)
		}
		if err := ValidateText(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateText refuses a NUL character in any of texts: no database stores it in a text column, and no wallet
// shows it.
func ValidateText(texts ...string) error {
	if hasNUL(texts...) {
		return fmt.Errorf("%w: %s", ErrInvalid, nulRefusal)
	}
	return nil
}

const nulRefusal = "text must not contain a NUL character"

func hasNUL(texts ...string) bool {
	for _, t := range texts {
		if strings.ContainsRune(t, 0) {
			return true
		}
	}
	return false
}

func (d Details) equal(o Details) bool {
	return d.PassType == o.PassType && d.Email == o.Email && d.CustomID == o.CustomID && maps.Equal(d.Data, o.Data)
}

// What one Journey Builder contact entry asks of a tenant's passes: which ones (Identifiers) and what to change
// on them (UpdateFromJourney), with the rules both must keep. The rules live here only: the HTTP port reads the
// execute call's JSON into these values, ScheduleFromJourney asks their Validate before it matches a pass, and a
// pass asks again when it takes the update (ScheduleUpdate).

// ErrIdentifiers is wrapped by every refusal of Identifiers, so a port can tell "which passes" from "what change".
var ErrIdentifiers = fmt.Errorf("%w: identifiers", ErrInvalid)

// Identifiers say which passes a contact entry is about. The most specific one given wins: PassID, then CustomID,
// then Email (case-insensitive, and possibly several passes). PassType narrows any of them.
type Identifiers struct {
	PassID   string
	CustomID string
	Email    string
	PassType string
}

// Validate checks that at least one identifier is given, and that none holds text no pass can have.
func (i Identifiers) Validate() error {
	if i.PassID == "" && i.CustomID == "" && i.Email == "" {
		return fmt.Errorf("%w: one of passId, customId or email is required", ErrIdentifiers)
	}
	if hasNUL(i.PassID, i.CustomID, i.Email, i.PassType) {
		return fmt.Errorf("%w: %s", ErrIdentifiers, nulRefusal)
	}
	return nil
}

// UpdateFromJourney is what one Journey Builder contact entry asks to change on a pass.
type UpdateFromJourney struct {
	JourneyID            string            `json:"journeyId"`
	ActivityID           string            `json:"activityId"`
	ActivityInstanceID   string            `json:"activityInstanceId"`
	DefinitionInstanceID string            `json:"definitionInstanceId"`
	ContactKey           string            `json:"contactKey"`
	Fields               map[string]string `json:"fields"`
	Message              string            `json:"message"`
	// CorrelationID is the id of the call that asked for the update. Updates of many calls are stored together,
	// so the event carries it to its envelope; it is not part of the payload.
	CorrelationID string `json:"-"`
}

// EntryKey identifies a contact entry at an activity. Journey Builder resends an execute call after a timeout
// or a 5xx with the same key.
func (u UpdateFromJourney) EntryKey() string {
	return u.ActivityID + "/" + u.DefinitionInstanceID
}

// Validate checks what a journey update needs.
func (u UpdateFromJourney) Validate() error {
	if u.ActivityID == "" || u.DefinitionInstanceID == "" {
		return fmt.Errorf("%w: activityId and definitionInstanceId are required to schedule an update", ErrInvalid)
	}
	if len(u.Message) > 1000 {
		return fmt.Errorf("%w: message is longer than 1000 characters", ErrInvalid)
	}
	// Journey Builder sends GUIDs and contact keys; a longer id is garbage, and would not fit an index.
	for name, id := range map[string]string{"journeyId": u.JourneyID, "activityId": u.ActivityID,
		"activityInstanceId": u.ActivityInstanceID, "definitionInstanceId": u.DefinitionInstanceID, "keyValue": u.ContactKey} {
		if len(id) > 255 {
			return fmt.Errorf("%w: %s is longer than 255 bytes", ErrInvalid, name)
		}
	}
	if err := ValidateText(u.JourneyID, u.ActivityID, u.ActivityInstanceID, u.DefinitionInstanceID, u.ContactKey, u.Message); err != nil {
		return err
	}
	return validateFields(u.Fields)
}

// Pass is one wallet pass of one tenant, rebuilt from its event stream, or restored from its Snapshot (further
// below), which holds every field of its state.
type Pass struct {
	tenantID   string
	id         string
	registered bool
	details    Details
	// revision is the version clients see: it counts the events that change the pass's fields.
	revision int
	// version counts the pass's own events, including the ones recorded and not yet stored. Push outcomes do
	// not count: they are the delivery stage's record, kept apart so it never contends with journey updates.
	version int
	// entries are the journey contact entries already scheduled, by EntryKey, so a resend changes nothing.
	entries map[string]bool
	// pushed are the revisions whose delivery outcome is recorded.
	pushed map[int]bool
	// failed are the revisions whose last outcome is PushUpdateFailed, which a redrive may queue again.
	failed map[int]FailedPush
	// devices are the devices registered for the pass's updates, by deviceLibraryIdentifier.
	devices map[string]Device
	changes []Event
}

// New returns a pass that has no events yet; Apply rebuilds it from its stream.
func New(tenantID, id string) (*Pass, error) {
	if tenantID == "" {
		return nil, fmt.Errorf("%w: tenant is required", ErrInvalid)
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return &Pass{tenantID: tenantID, id: id, entries: map[string]bool{}, pushed: map[int]bool{}, failed: map[int]FailedPush{},
		devices: map[string]Device{}}, nil
}

func (p *Pass) TenantID() string { return p.tenantID }
func (p *Pass) ID() string       { return p.id }
func (p *Pass) Registered() bool { return p.registered }
func (p *Pass) Details() Details { return p.details }
func (p *Pass) Revision() int    { return p.revision }
func (p *Pass) Version() int     { return p.version }
func (p *Pass) Changes() []Event { return p.changes }
func (p *Pass) StoredVersion() int {
	stored := p.version
	for _, e := range p.changes {
		if !IsPushOutcome(e) {
			stored--
		}
	}
	return stored
}

// Register records PassRegistered for a new pass, PassDataChanged when the details differ from the stored
// ones, and nothing when they are the same, so registering twice is harmless. It reports whether the pass is new.
func (p *Pass) Register(d Details) (created bool, err error) {
	if d.Data == nil {
		d.Data = map[string]string{}
	}
	if err := d.Validate(); err != nil {
		return false, err
	}
	switch {
	case !p.registered:
		p.record(Registered{Details: d, Revision: 1})
		return true, nil
	case !p.details.equal(d):
		p.record(DataChanged{Details: d, Revision: p.revision + 1})
	}
	return false, nil
}

// ScheduleUpdate merges the fields into the pass and records PassUpdateScheduled, once per contact entry: a
// resent entry changes nothing and reports false.
func (p *Pass) ScheduleUpdate(u UpdateFromJourney) (scheduled bool, err error) {
	if err := u.Validate(); err != nil {
		return false, err
	}
	if !p.registered {
		return false, fmt.Errorf("schedule update of pass %s: %w", p.id, ErrNotFound)
	}
	if p.entries[u.EntryKey()] {
		return false, nil
	}
	data := maps.Clone(p.details.Data)
	if data == nil {
		data = map[string]string{}
	}
	maps.Copy(data, u.Fields)
	// The caps hold for the data the pass ends up with, not only for the update's own fields.
	if err := validateFields(data); err != nil {
		return false, fmt.Errorf("pass %s with this update's fields: %w", p.id, err)
	}
	if u.Fields == nil {
		u.Fields = map[string]string{}
	}
	p.record(UpdateScheduled{
		UpdateFromJourney: u,
		Revision:          p.revision + 1,
		PassType:          p.details.PassType,
		Data:              data,
	})
	return true, nil
}

// PushOutcome is how the delivery of one scheduled update ended.
type PushOutcome struct {
	// Revision is the revision the update produced.
	Revision int
	// ScheduledEventID is the stored id of the PassUpdateScheduled event, the id receivers dedupe on.
	ScheduledEventID string
	// JourneyID is the journey that scheduled the update, so the audit log can list the outcome under it.
	JourneyID string
	// CorrelationID is the id of the call that scheduled the update; the outcome event carries it.
	CorrelationID string
	Delivered     bool
	Reason        string
	Channels      []ChannelResult
}

// RecordPush records PushUpdateEmitted or PushUpdateFailed for a revision, once, and DeviceUnregistered for each
// registered device the Apple channel found gone.
func (p *Pass) RecordPush(o PushOutcome) (recorded bool, err error) {
	if o.Revision < 1 || o.Revision > p.revision {
		return false, fmt.Errorf("%w: pass %s has no revision %d to push", ErrInvalid, p.id, o.Revision)
	}
	if p.pushed[o.Revision] {
		return false, nil
	}
	if o.Channels == nil {
		o.Channels = []ChannelResult{}
	}
	if o.Delivered {
		p.record(PushUpdateEmitted{Revision: o.Revision, ScheduledEventID: o.ScheduledEventID, JourneyID: o.JourneyID,
			Channels: o.Channels, CorrelationID: o.CorrelationID})
	} else {
		p.record(PushUpdateFailed{Revision: o.Revision, ScheduledEventID: o.ScheduledEventID, JourneyID: o.JourneyID,
			Reason: o.Reason, Channels: o.Channels, CorrelationID: o.CorrelationID})
	}
	p.unregisterRemoved(o.Channels)
	return true, nil
}

func (p *Pass) record(e Event) {
	p.apply(e)
	p.changes = append(p.changes, e)
}

// Skip counts a stored event of the stream that this version of the aggregate does not know, so the next event
// still takes the right version.
func (p *Pass) Skip() {
	p.version++
}

// Apply replays a stored event.
func (p *Pass) Apply(e Event) {
	p.apply(e)
}

func (p *Pass) apply(e Event) {
	if !IsPushOutcome(e) {
		p.version++
	}
	switch e := e.(type) {
	case Registered:
		p.registered = true
		p.details = e.Details
		p.revision = e.Revision
	case DataChanged:
		p.details = e.Details
		p.revision = e.Revision
	case UpdateScheduled:
		p.details.Data = e.Data
		p.revision = e.Revision
		p.entries[e.EntryKey()] = true
	case PushUpdateEmitted:
		p.pushed[e.Revision] = true
		delete(p.failed, e.Revision)
	case PushUpdateFailed:
		p.pushed[e.Revision] = true
		p.failed[e.Revision] = FailedPush{Revision: e.Revision, ScheduledEventID: e.ScheduledEventID, JourneyID: e.JourneyID,
			Channels: e.Channels}
	case DeliveryRedriven:
		// The update is on its way again: it takes a new outcome, and cannot be redriven until that one fails.
		delete(p.pushed, e.Revision)
		delete(p.failed, e.Revision)
	case DeviceRegistered:
		p.devices[e.DeviceLibraryID] = Device{ID: e.DeviceLibraryID, PassTypeID: e.PassTypeID, PushToken: e.PushToken}
	case DeviceUnregistered:
		delete(p.devices, e.DeviceLibraryID)
	}
}

// IsPushOutcome reports whether e records how a delivery ended, or that it was redriven, rather than a change of
// the pass.
func IsPushOutcome(e Event) bool {
	switch e.(type) {
	case PushUpdateEmitted, PushUpdateFailed, DeliveryRedriven:
		return true
	}
	return false
}

// Snapshot is what a pass's own events made of it, so loading a pass that journeys have updated for years does
// not replay every update. Version is the stream version it was taken at.
type Snapshot struct {
	Registered bool     `json:"registered"`
	Details    Details  `json:"details"`
	Revision   int      `json:"revision"`
	Version    int      `json:"version"`
	Entries    []string `json:"entries"`
	Devices    []Device `json:"devices,omitempty"`
}

// PushSnapshot is what the pass's push outcomes made of it: the revisions whose outcome is recorded, and those
// whose last outcome is a failure. It is kept apart from Snapshot as the outcomes are: the delivery stage and
// redrives write it, the journey updates never do.
type PushSnapshot struct {
	Pushed []int        `json:"pushed"`
	Failed []FailedPush `json:"failed,omitempty"`
}

// Snapshot returns the pass's state, changes included.
func (p *Pass) Snapshot() (Snapshot, PushSnapshot) {
	s := Snapshot{Registered: p.registered, Details: p.details, Revision: p.revision, Version: p.version,
		Entries: slices.Sorted(maps.Keys(p.entries))}
	if len(p.devices) > 0 {
		s.Devices = p.Devices()
	}
	s.Details.Data = maps.Clone(s.Details.Data)
	ps := PushSnapshot{Pushed: slices.Sorted(maps.Keys(p.pushed))}
	for _, r := range slices.Sorted(maps.Keys(p.failed)) {
		ps.Failed = append(ps.Failed, p.failed[r])
	}
	return s, ps
}

// Restore returns the pass that s and ps describe, with no changes; Apply replays events stored after them.
func Restore(tenantID, id string, s Snapshot, ps PushSnapshot) (*Pass, error) {
	p, err := New(tenantID, id)
	if err != nil {
		return nil, err
	}
	p.registered, p.details, p.revision, p.version = s.Registered, s.Details, s.Revision, s.Version
	p.details.Data = maps.Clone(s.Details.Data)
	for _, e := range s.Entries {
		p.entries[e] = true
	}
	for _, d := range s.Devices {
		p.devices[d.ID] = d
	}
	for _, r := range ps.Pushed {
		p.pushed[r] = true
	}
	for _, f := range ps.Failed {
		p.failed[f.Revision] = f
	}
	return p, nil
}

// Repository loads passes from their event streams and stores the events they record.
//
// Update loads the pass (a new, unregistered one when its stream is empty), calls update, and appends the
// recorded events with the loaded version as the expected one, publishing them in the same transaction. On a
// version conflict it loads again and calls update again, so update must not have side effects.
type Repository interface {
	Update(ctx context.Context, tenantID, passID string, update func(p *Pass) error) error
	// UpdateAll does the same for many passes of one tenant in one transaction, for imports.
	UpdateAll(ctx context.Context, tenantID string, passIDs []string, update func(p *Pass) error) error
}
