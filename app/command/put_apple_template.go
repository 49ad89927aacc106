package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/pass"
)

// PutAppleTemplate stores a new version of a tenant's Apple Wallet template for one pass type (the pass
// registry's passType): from a zip of its files (Zip) or from a folder (Dir, for the command line). The latest
// version applies to every pass of that type built afterwards.
type PutAppleTemplate struct {
	TenantID string
	PassType string
	Zip      []byte
	Dir      string
}

// PutAppleTemplateResult is the version a put made.
type PutAppleTemplateResult struct {
	PassType   string `json:"passType"`
	Version    int    `json:"version"`
	PassTypeID string `json:"passTypeIdentifier"`
	Style      string `json:"style"`
}

// AppleTemplateFiles reads a template's files (adapters/apple): every fault wraps applepass.ErrInvalidTemplate and
// names the file and the field.
type AppleTemplateFiles interface {
	ReadZip(zip []byte) (applepass.Template, error)
	ReadDir(dir string) (applepass.Template, error)
}

// AppleTemplateStore keeps every version of the tenants' templates (adapters/apple).
type AppleTemplateStore interface {
	// Add stores t as the next version of the tenant's template of passType and returns that version (1, 2, …).
	Add(ctx context.Context, tenantID, passType string, t applepass.Template) (int, error)
}

// PutAppleTemplateHandler handles PutAppleTemplate.
type PutAppleTemplateHandler struct {
	tenants      TenantGetter
	files        AppleTemplateFiles
	templates    AppleTemplateStore
	certificates AppleCertificateStore
}

// NewPutAppleTemplateHandler returns a handler that reads templates with files, checks that the tenant has a
// certificate of their passTypeIdentifier, and stores them in templates.
func NewPutAppleTemplateHandler(tenants TenantGetter, files AppleTemplateFiles, templates AppleTemplateStore, certificates AppleCertificateStore) PutAppleTemplateHandler {
	if tenants == nil || files == nil || templates == nil || certificates == nil {
		panic("nil tenants, template files, template store or certificate store")
	}
	return PutAppleTemplateHandler{tenants: tenants, files: files, templates: templates, certificates: certificates}
}

// Handle checks the template and stores it as the next version.
func (h PutAppleTemplateHandler) Handle(ctx context.Context, cmd PutAppleTemplate) (PutAppleTemplateResult, error) {
	if strings.TrimSpace(cmd.PassType) == "" || len(cmd.PassType) > 255 {
		return PutAppleTemplateResult{}, fmt.Errorf("%w: passType must be 1 to 255 characters", pass.ErrInvalid)
	}
	if err := pass.ValidateText(cmd.PassType); err != nil {
		return PutAppleTemplateResult{}, err
	}
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return PutAppleTemplateResult{}, fmt.Errorf("tenant %s: %w", cmd.TenantID, err)
	}
	var (
		t   applepass.Template
		err error
	)
	if cmd.Dir != "" {
		t, err = h.files.ReadDir(cmd.Dir)
	} else {
		t, err = h.files.ReadZip(cmd.Zip)
	}
	if err != nil {
		return PutAppleTemplateResult{}, err
	}
	has, err := h.certificates.Has(ctx, cmd.TenantID, t.PassTypeIdentifier())
	if err != nil {
		return PutAppleTemplateResult{}, err
	}
	if !has {
		return PutAppleTemplateResult{}, applepass.TemplateFault{File: "pass.json", Field: "passTypeIdentifier",
			Problem: fmt.Sprintf("tenant %s has no certificate of %q: add it first (passpush apple certificate add)", cmd.TenantID, t.PassTypeIdentifier())}
	}
	version, err := h.templates.Add(ctx, cmd.TenantID, cmd.PassType, t)
	if err != nil {
		return PutAppleTemplateResult{}, err
	}
	return PutAppleTemplateResult{PassType: cmd.PassType, Version: version, PassTypeID: t.PassTypeIdentifier(), Style: t.Style()}, nil
}
