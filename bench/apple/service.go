package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

const (
	tenantID    = "acme"
	adminToken  = "bench-admin-token"
	sfmcSecret  = "bench-sfmc-secret"
	stopTimeout = 30 * time.Second
)

// bench is passpush in this process on a fresh database, the fake APNs it pushes to, and the tenant's passes.
type bench struct {
	o        options
	svc      *inProcess
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
	svc, err := startService(ctx, o.databaseURL, apns, dir)
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
	if err := b.svc.stop(); err != nil {
		logf("stop: %v", err)
	}
	b.stopAPNs()
}

func (b *bench) tenant(ctx context.Context, pki *appletest.PKI, dir string) error {
	app := b.svc.svc.App
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

	logf("importing %d passes", b.o.passes)
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

// inProcess is passpush as serve starts it, in this process: the buses and the delivery stage, then the HTTP
// server on loopback, whose address is the public URL.
type inProcess struct {
	url     string
	log     string
	svc     *service.Service
	db      *sqldb.DB
	server  *http.Server
	stopBus context.CancelFunc
	busDone <-chan error
	logFile *os.File
}

func startService(ctx context.Context, databaseURL string, apns *appletest.APNs, dir string) (*inProcess, error) {
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	l := logrus.New()
	l.SetOutput(logFile)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.WarnLevel)
	log := logrus.NewEntry(l)
	db, err := sqldb.Open(ctx, databaseURL, sqldb.Config{})
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	var ln net.Listener
	fail := func(err error) (*inProcess, error) {
		if ln != nil {
			_ = ln.Close()
		}
		_ = db.Close()
		_ = logFile.Close()
		return nil, err
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		return fail(err)
	}
	var events int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&events); err != nil || events > 0 {
		return fail(fmt.Errorf("the database is not fresh (%d events, %v): the figures would not be comparable", events, err))
	}
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fail(err)
	}
	publicURL := "http://" + ln.Addr().String()
	config := service.Config{PublicURL: publicURL}
	config.APNs.URL, config.APNs.RootCAs = apns.URL, apns.RootCAs
	svc, err := service.New(db, config, log)
	if err != nil {
		return fail(err)
	}
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	busDone, err := svc.Run(busCtx)
	if err != nil {
		stopBus()
		return fail(err)
	}
	handler, err := httpport.NewServer(svc.App, httpport.Config{AdminToken: adminToken, PublicURL: publicURL}, log)
	if err != nil {
		stopBus()
		<-busDone
		return fail(err)
	}
	s := &inProcess{
		url: publicURL, log: logPath, svc: svc, db: db, stopBus: stopBus, busDone: busDone, logFile: logFile,
		server: &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute},
	}
	go func() { _ = s.server.Serve(ln) }()
	return s, nil
}

func (s *inProcess) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := s.server.Shutdown(ctx)
	s.stopBus()
	select {
	case busErr := <-s.busDone:
		if busErr != nil && !errors.Is(busErr, context.Canceled) {
			err = errors.Join(err, busErr)
		}
	case <-ctx.Done():
		err = errors.Join(err, errors.New("buses did not stop in time"))
	}
	return errors.Join(err, s.db.Close(), s.logFile.Close())
}

// count runs a COUNT(*) query.
func (s *inProcess) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// peakRSS reads this process's VmHWM in bytes.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// machineBusy is the share of the machine's CPU time that was busy over d, from /proc/stat.
func machineBusy(d time.Duration) float64 {
	read := func() (busy, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, f := range fields[1:] {
			if i >= 8 { // guest and guest_nice are already counted in user and nice
				break
			}
			v, _ := strconv.ParseFloat(f, 64)
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0)
}

// countLines counts the lines of a file (the service's warnings and errors).
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
