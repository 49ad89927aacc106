package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"golang.org/x/sync/errgroup"
)

// appleTemplate is the tenants' loyalty pass, under the test PKI's Pass Type ID. The Apple channel pushes without
// building the pass, so its content only has to be a template passpush accepts.
var appleTemplate = `{
  "formatVersion": 1,
  "passTypeIdentifier": "` + appletest.PassTypeID + `",
  "teamIdentifier": "BENCH",
  "organizationName": "Bench",
  "description": "Loyalty card",
  "storeCard": {"primaryFields": [{"key": "points", "label": "Points", "value": "{{points}}", "changeMessage": "%@"}]}
}`

// appleEnv is the tenants' Apple Wallet: the test PKI's Pass Type ID certificate, the fake APNs passpush pushes
// to, and one device per pass, registered through the PassKit web service's command with the pass's token.
type appleEnv struct {
	pki      *appletest.PKI
	apns     *appletest.APNs
	stop     func()
	template string // the template's folder
	tokens   *apple.Tokens

	mu     sync.Mutex
	passOf map[string]string // push token → passId
}

// newAppleEnv starts the fake APNs, answering in delay, and writes the template under dir.
func newAppleEnv(dir string, delay time.Duration) (*appleEnv, error) {
	pki, err := appletest.NewProgramPKI(dir)
	if err != nil {
		return nil, err
	}
	apns, stop, err := appletest.NewProgramAPNs(pki)
	if err != nil {
		return nil, err
	}
	apns.SetDelay(delay)
	e := &appleEnv{pki: pki, apns: apns, stop: stop, template: filepath.Join(dir, "apple-template"), passOf: map[string]string{}}
	if err := os.MkdirAll(e.template, 0o700); err != nil {
		stop()
		return nil, err
	}
	for name, content := range map[string]string{"pass.json": appleTemplate, "icon.png": "icon"} {
		if err := os.WriteFile(filepath.Join(e.template, name), []byte(content), 0o600); err != nil {
			stop()
			return nil, err
		}
	}
	return e, nil
}

func (e *appleEnv) close() { e.stop() }

// setUp gives the tenant the certificate and the template, and registers a device for every pass, as customers
// who added their passes to Wallet. It needs the passes imported: a device registers for a pass passpush has.
func (e *appleEnv) setUp(ctx context.Context, svc *benchkit.Service, t *tenantLoad) error {
	if e.tokens == nil {
		var err error
		if e.tokens, err = apple.NewTokens(svc.DB); err != nil {
			return err
		}
	}
	app := svc.Svc.App
	if _, err := app.Commands.AddAppleCertificate.Handle(ctx, command.AddAppleCertificate{TenantID: t.id,
		PassTypeID: appletest.PassTypeID, Files: command.AppleCertificateFiles{CertificatePEM: e.pki.Pass.CertPEM,
			PrivateKeyPEM: e.pki.Pass.KeyPEM, WWDR: e.pki.WWDR.CertPEM}}); err != nil {
		return fmt.Errorf("add the Apple certificate of %s: %w", t.id, err)
	}
	if _, err := app.Commands.PutAppleTemplate.Handle(ctx, command.PutAppleTemplate{TenantID: t.id, PassType: "loyalty", Dir: e.template}); err != nil {
		return fmt.Errorf("put the Apple template of %s: %w", t.id, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, passID := range t.passIDs {
		g.Go(func() error { return e.register(gctx, svc, t.id, passID) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return waitRegistered(ctx, svc, t)
}

// register registers one device for the pass, with a push token of its own.
func (e *appleEnv) register(ctx context.Context, svc *benchkit.Service, tenantID, passID string) error {
	token, err := e.tokens.Token(ctx, tenantID, passID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	pushToken := fmt.Sprintf("%064x", len(e.passOf)+1)
	e.passOf[pushToken] = passID
	e.mu.Unlock()
	_, err = svc.Svc.App.Commands.RegisterAppleDevice.Handle(ctx, command.RegisterAppleDevice{TenantID: tenantID, PassID: passID,
		PassTypeID: appletest.PassTypeID, DeviceLibraryID: "device-" + passID, PushToken: pushToken, Token: token})
	if err != nil {
		return fmt.Errorf("register a device for %s/%s: %w", tenantID, passID, err)
	}
	return nil
}

// waitRegistered waits for the registrations read model, which the Apple channel lists its targets from, to list
// every device of the tenant.
func waitRegistered(ctx context.Context, svc *benchkit.Service, t *tenantLoad) error {
	return benchkit.WaitFor(ctx, 2*time.Minute, "the registrations read model to list every device of "+t.id, func() (bool, error) {
		n, err := svc.Count(ctx, `SELECT COUNT(*) FROM apple_registrations WHERE tenant_id = $1 AND active`, t.id)
		return n == len(t.passIDs), err
	})
}

// pushed returns when each pass's device first got a push since the fake was last reset.
func (e *appleEnv) pushed() map[string]time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]time.Time{}
	for _, p := range e.apns.Pushes() {
		passID, ok := e.passOf[p.Token]
		if !ok {
			continue
		}
		if at, seen := out[passID]; !seen || p.At.Before(at) {
			out[passID] = p.At
		}
	}
	return out
}
