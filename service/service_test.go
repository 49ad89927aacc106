package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

func TestRegisterPass_readModelShowsIt(t *testing.T) {
	db := sqldbtest.New(t)
	svc, err := service.New(db, service.Config{}, logrus.NewEntry(logrus.StandardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := svc.RunBus(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "t1", PassID: "p1",
		Details: pass.Details{PassType: "loyalty", Email: "A@x.com", Data: map[string]string{"points": "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	p, err := svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: "t1", PassID: "p1", MinStreamVersion: res.Version})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
}
