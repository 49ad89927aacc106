package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/pass"
)

// PutGoogleClass sets a tenant's Google Wallet class for one pass type (the pass registry's passType), in place of
// the one it had: the type of its objects, the class's id in the Wallet API, and the template of its objects.
type PutGoogleClass struct {
	TenantID   string
	PassType   string
	ObjectType string
	ClassID    string
	// Template is a JSON object of the object type, without id and classId.
	Template []byte
}

// GoogleClassInfo is a class as it was stored.
type GoogleClassInfo struct {
	PassType   string `json:"passType"`
	ObjectType string `json:"objectType"`
	ClassID    string `json:"classId"`
}

// GoogleClassStore keeps the tenants' classes (adapters/google).
type GoogleClassStore interface {
	// Put stores the class of passType in place of the tenant's.
	Put(ctx context.Context, tenantID, passType string, c googlepass.Class) error
}

// PutGoogleClassHandler handles PutGoogleClass.
type PutGoogleClassHandler struct {
	tenants  TenantGetter
	settings query.GoogleSettingsReader
	classes  GoogleClassStore
}

// NewPutGoogleClassHandler returns a handler that checks classes against their tenant's settings and stores them
// in classes.
func NewPutGoogleClassHandler(tenants TenantGetter, settings query.GoogleSettingsReader, classes GoogleClassStore) PutGoogleClassHandler {
	if tenants == nil || settings == nil || classes == nil {
		panic("nil tenants, Google settings or Google class store")
	}
	return PutGoogleClassHandler{tenants: tenants, settings: settings, classes: classes}
}

// Handle checks the class (googlepass.Class.Check: its id must start with the tenant's issuer id) and stores it.
// Refusals wrap googlepass.ErrInvalidClass, or pass.ErrInvalid for the pass type.
func (h PutGoogleClassHandler) Handle(ctx context.Context, cmd PutGoogleClass) (GoogleClassInfo, error) {
	if strings.TrimSpace(cmd.PassType) == "" || len(cmd.PassType) > 255 {
		return GoogleClassInfo{}, fmt.Errorf("%w: passType must be 1 to 255 characters", pass.ErrInvalid)
	}
	if err := pass.ValidateText(cmd.PassType); err != nil {
		return GoogleClassInfo{}, err
	}
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return GoogleClassInfo{}, fmt.Errorf("tenant %s: %w", cmd.TenantID, err)
	}
	settings, err := h.settings.Info(ctx, cmd.TenantID)
	if errors.Is(err, push.ErrNotSetUp) {
		return GoogleClassInfo{}, fmt.Errorf("%w: tenant %s has no Google settings: set them first (passpush google set)",
			googlepass.ErrInvalidClass, cmd.TenantID)
	}
	if err != nil {
		return GoogleClassInfo{}, err
	}
	class := googlepass.Class{IssuerID: settings.IssuerID, ObjectType: cmd.ObjectType, ClassID: cmd.ClassID, Template: cmd.Template}
	if err := class.Check(); err != nil {
		return GoogleClassInfo{}, err
	}
	if err := h.classes.Put(ctx, cmd.TenantID, cmd.PassType, class); err != nil {
		return GoogleClassInfo{}, err
	}
	return GoogleClassInfo{PassType: cmd.PassType, ObjectType: class.ObjectType, ClassID: class.ClassID}, nil
}
