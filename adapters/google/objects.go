package google

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/googlepass"
)

// Object is a pass's Google Wallet object, as the Wallet API and a save link take it.
type Object struct {
	// Type is the class's object type: "generic", "loyalty", "offer", "giftCard" or "eventTicket". The API's
	// resource is Type + "Object", a save link's payload key Type + "Objects".
	Type string
	// ID is the object's id, googlepass.ObjectID of the pass: "{issuerId}.{tenantId}_{passId}".
	ID string
	// Body is the whole object (with id and classId), built from the class's template and the pass's data.
	Body map[string]any
	// Account is the tenant's settings the object was built with: its service account signs a save link and
	// calls the API.
	Account *Account
}

// Objects builds passes' objects from the passes read model, the tenants' settings and their classes.
type Objects struct {
	settings *SettingsStore
	classes  *Classes
	passes   query.PassGetter
}

// NewObjects returns the builder of objects.
func NewObjects(settings *SettingsStore, classes *Classes, passes query.PassGetter) (*Objects, error) {
	if settings == nil || classes == nil || passes == nil {
		return nil, errors.New("new google objects: nil settings, classes or passes")
	}
	return &Objects{settings: settings, classes: classes, passes: passes}, nil
}

// Build loads the tenant's Google settings, the pass from the passes read model and the class of its type, and
// builds its object (googlepass.BuildObject). The error wraps push.ErrNotSetUp when the tenant has no Google
// settings or no class for the pass's type, and pass.ErrNotFound for an unknown pass.
func (o *Objects) Build(ctx context.Context, tenantID, passID string) (Object, error) {
	account, err := o.settings.Account(ctx, tenantID)
	if err != nil {
		return Object{}, err
	}
	return o.BuildFor(ctx, account, tenantID, passID)
}

// BuildFor is Build with the tenant's settings the caller holds: the channel's client was made from them, and
// reading and unsealing them again for every push cost a query and a decryption.
func (o *Objects) BuildFor(ctx context.Context, account *Account, tenantID, passID string) (Object, error) {
	p, err := o.passes.Get(ctx, tenantID, passID, 0)
	if err != nil {
		return Object{}, fmt.Errorf("get pass %s: %w", passID, err)
	}
	class, err := o.classes.Get(ctx, tenantID, p.PassType)
	if err != nil {
		return Object{}, err
	}
	class.IssuerID = account.Settings.IssuerID
	body, err := googlepass.BuildObject(class, googlepass.Pass{
		TenantID: tenantID, ID: p.PassID, Email: p.Email, CustomID: p.CustomID, Data: p.Data,
	})
	if err != nil {
		return Object{}, fmt.Errorf("google object of pass %s: %w", passID, err)
	}
	return Object{Type: class.ObjectType, ID: body["id"].(string), Body: body, Account: account}, nil
}

// HasClass implements ObjectBuilder: whether the tenant has a class for passType.
func (o *Objects) HasClass(ctx context.Context, tenantID, passType string) (bool, error) {
	_, err := o.classes.Get(ctx, tenantID, passType)
	switch {
	case errors.Is(err, errNotSetUp):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
