package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/ports/cli"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// TEMPORARY profiling harness.
func TestProfileImport(t *testing.T) {
	args := os.Getenv("PROFILE_ARGS")
	if args == "" {
		t.Skip()
	}
	code := cli.Run(context.Background(), strings.Fields(args), cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv}, open)
	if code != 0 {
		t.Fatal(code)
	}
}

func open(ctx context.Context, config cli.Config, log *logrus.Entry) (*cli.Backend, error) {
	db, err := sqldb.Open(ctx, config.DatabaseURL)
	if err != nil {
		return nil, err
	}
	applied, err := sqldb.Migrate(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	svc, err := service.New(db, service.Config{}, log)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	runBus := svc.RunBus
	if os.Getenv("PROFILE_NOBUS") != "" {
		runBus = func(ctx context.Context) (<-chan error, error) {
			ch := make(chan error, 1)
			go func() { <-ctx.Done(); ch <- nil }()
			return ch, nil
		}
	}
	return &cli.Backend{
		App: svc.App, Migrated: applied, RunBus: runBus, Run: svc.Run,
		RebuildProjections: func(ctx context.Context) (int, error) { return svc.PassProjection.Rebuild(ctx, svc.Events) },
		NewHTTPHandler: func() (http.Handler, error) {
			return httpport.NewServer(svc.App, httpport.Config{AdminToken: config.AdminToken, PublicURL: config.PublicURL}, log)
		},
		Close: db.Close,
	}, nil
}

// TEMPORARY: the append phase and the projection phase, one after the other.
func TestProfilePhases(t *testing.T) {
	url := os.Getenv("PHASES_DB")
	if url == "" {
		t.Skip()
	}
	n := 20000
	ctx := context.Background()
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetLevel(logrus.WarnLevel)
	db, err := sqldb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(db, service.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	tid := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, _, err := svc.App.Commands.SaveTenant.Handle(ctx, command.SaveTenant{TenantID: tid, Changes: tenant.Changes{SFMCSigningSecrets: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last *command.RegisterPassResultOf
	for b := 0; b < n; b += 1000 {
		var ps []command.RegisterPass
		for i := b; i < b+1000; i++ {
			ps = append(ps, command.RegisterPass{TenantID: tid, PassID: fmt.Sprintf("p-%08d", i), Details: pass.Details{PassType: "loyalty", Email: fmt.Sprintf("m%d@example.com", i), Data: map[string]string{"points": "1", "tier": "gold"}}})
		}
		res, err := svc.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: tid, Passes: ps})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Last
	}
	appendTime := time.Since(start)
	if os.Getenv("PHASES_APPEND_ONLY") != "" {
		fmt.Printf("append %d passes: %s (%.0f/s)\n", n, appendTime, float64(n)/appendTime.Seconds())
		return
	}
	start = time.Now()
	done, err := svc.RunBus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = done
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, err := svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: tid, PassID: last.PassID, MinStreamVersion: last.Version}); err != nil {
		t.Fatal(err)
	}
	projectTime := time.Since(start)
	fmt.Printf("append %d passes: %s (%.0f/s); projections catch up: %s (%.0f events/s)\n", n, appendTime, float64(n)/appendTime.Seconds(), projectTime, float64(n)/projectTime.Seconds())
}
