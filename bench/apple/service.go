package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/service"
)

const (
	tenantID   = "acme"
	adminToken = "bench-admin-token"
	sfmcSecret = "bench-sfmc-secret"
)

// bench is passpush in this process on a fresh database, the fake APNs it pushes to, and the tenant's passes.
type bench struct {
	o        options
	svc      *benchkit.Service
	apns     *appletest.APNs
	stopAPNs func()
	passIDs  []string
	tokens   []string // each pass's authenticationToken, as its pass.json has it
	client   *http.Client
}

func passID(i int) string    { return fmt.Sprintf("p-%05d", i) }
func pushToken(i int) string { return fmt.Sprintf("%064x", i+1) }
func deviceID(i int) string  { return fmt.Sprintf("device-%05d", i) }

// setUp starts the fake APNs and passpush, and gives acme the PKI's certificate, the template and the passes.
func setUp(ctx context.Context, o options, dir string) (*bench, error) {
	pki, err := appletest.NewProgramPKI(dir)
	if err != nil {
		return nil, err
	}
	apns, stopAPNs, err := appletest.NewProgramAPNs(pki)
	if err != nil {
		return nil, err
	}
	apns.SetDelay(o.apnsDelay)
	svc, err := benchkit.StartService(ctx, benchkit.ServiceOptions{
		DatabaseURL: o.databaseURL, Dir: dir, AdminToken: adminToken, RequireFresh: true,
		Config: func(url string) service.Config {
			config := service.Config{PublicURL: url}
			config.APNs.URL, config.APNs.RootCAs, config.APNs.SignAhead = apns.URL, apns.RootCAs, o.signAhead
			return config
		},
	})
	if err != nil {
		stopAPNs()
		return nil, err
	}
	b := &bench{o: o, svc: svc, apns: apns, stopAPNs: stopAPNs, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
	}}
	if err := b.tenant(ctx, pki, dir); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if err := b.svc.Stop(); err != nil {
		benchkit.Logf("stop: %v", err)
	}
	b.stopAPNs()
}

func (b *bench) tenant(ctx context.Context, pki *appletest.PKI, dir string) error {
	app := b.svc.Svc.App
	if _, _, err := app.Commands.SaveTenant.Handle(ctx, command.SaveTenant{
		TenantID: tenantID, Mode: command.CreateOnly, Changes: tenant.Changes{SFMCSigningSecrets: []string{sfmcSecret}},
	}); err != nil {
		return err
	}
	if _, err := app.Commands.AddAppleCertificate.Handle(ctx, command.AddAppleCertificate{TenantID: tenantID,
		PassTypeID: appletest.PassTypeID, Files: command.AppleCertificateFiles{CertificatePEM: pki.Pass.CertPEM,
			PrivateKeyPEM: pki.Pass.KeyPEM, WWDR: pki.WWDR.CertPEM}}); err != nil {
		return fmt.Errorf("add the certificate: %w", err)
	}
	tplDir, err := copyTemplate(b.o.template, filepath.Join(dir, "template"))
	if err != nil {
		return err
	}
	if _, err := app.Commands.PutAppleTemplate.Handle(ctx, command.PutAppleTemplate{TenantID: tenantID, PassType: "loyalty", Dir: tplDir}); err != nil {
		return fmt.Errorf("put the template: %w", err)
	}

	benchkit.Logf("importing %d passes", b.o.passes)
	passes := make([]command.RegisterPass, b.o.passes)
	for i := range passes {
		b.passIDs = append(b.passIDs, passID(i))
		passes[i] = command.RegisterPass{PassID: passID(i), Details: pass.Details{PassType: "loyalty",
			Email: fmt.Sprintf("member%d@example.com", i), CustomID: fmt.Sprintf("c-%d", i),
			Data: map[string]string{"points": "100", "tier": "Member", "offer": ""}}}
	}
	for start := 0; start < len(passes); start += 500 {
		res, err := app.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: tenantID, Passes: passes[start:min(start+500, len(passes))]})
		if err != nil {
			return fmt.Errorf("import passes: %w", err)
		}
		if res.Last == nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = app.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: tenantID, PassID: res.Last.PassID, MinStreamVersion: res.Last.StreamVersion})
		cancel()
		if err != nil {
			return fmt.Errorf("the read model does not show the imported passes: %w", err)
		}
	}
	b.tokens = make([]string, len(passes))
	return nil
}

// copyTemplate copies the template folder's files to dst, with the test PKI's Pass Type ID in pass.json.
func copyTemplate(src, dst string) (string, error) {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if e.Name() == "pass.json" {
			b = replacePassTypeID(b)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return "", err
		}
	}
	return dst, nil
}

func replacePassTypeID(passJSON []byte) []byte {
	i := bytes.Index(passJSON, []byte(`"passTypeIdentifier"`))
	if i < 0 {
		return passJSON
	}
	start := i + bytes.IndexByte(passJSON[i+len(`"passTypeIdentifier"`):], '"') + len(`"passTypeIdentifier"`) + 1
	end := start + bytes.IndexByte(passJSON[start:], '"')
	return bytes.Join([][]byte{passJSON[:start], []byte(appletest.PassTypeID), passJSON[end:]}, nil)
}
