package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/webhook"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

const (
	adminToken    = "bench-admin-token"
	sfmcSecret    = "bench-sfmc-secret"
	webhookSecret = "bench-webhook-secret"
	publicURL     = "https://passpush.bench.example"
	stopTimeout   = 30 * time.Second
)

// inProcess is passpush as serve starts it, in this process: the buses and the delivery stage, then the HTTP
// server on loopback.
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

func startService(ctx context.Context, databaseURL, googleAPIURL, dir string, attemptTimeout time.Duration) (*inProcess, error) {
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
	fail := func(err error) (*inProcess, error) {
		_ = db.Close()
		_ = logFile.Close()
		return nil, err
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		return fail(err)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&tables); err != nil || tables > 0 {
		return fail(fmt.Errorf("the database is not fresh (%d events, %v): the figures would not be comparable", tables, err))
	}
	config := service.Config{GoogleAPIURL: googleAPIURL, PublicURL: publicURL}
	config.Delivery.AttemptTimeout = attemptTimeout
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopBus()
		<-busDone
		return fail(err)
	}
	s := &inProcess{
		url: "http://" + ln.Addr().String(), log: logPath, svc: svc, db: db, stopBus: stopBus, busDone: busDone, logFile: logFile,
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

// outcomes counts the PushUpdateEmitted and PushUpdateFailed events of tenants whose id starts with prefix.
func (s *inProcess) outcomes(ctx context.Context, prefix string) (emitted, failed int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN event_type = 'PushUpdateEmitted' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN event_type = 'PushUpdateFailed' THEN 1 ELSE 0 END), 0)
		FROM events WHERE tenant_id LIKE $1`, prefix+"%").Scan(&emitted, &failed)
	return emitted, failed, err
}

func (s *inProcess) admin(ctx context.Context, method, path string, body any) ([]byte, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return b, nil
}

// receiver is the tenants' webhook: it takes delay per call, checks the signature and records when each pass's
// update first arrived.
type receiver struct {
	url    string
	delay  time.Duration
	server *httptest.Server

	mu           sync.Mutex
	first        map[string]time.Time // passId → first 2xx
	calls        int
	duplicates   int
	badSignature int
}

func newReceiver(delay time.Duration) *receiver {
	r := &receiver{delay: delay, first: map[string]time.Time{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	r.url = r.server.URL
	return r
}

func (r *receiver) close() { r.server.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	good := req.Header.Get(webhook.SignatureHeader) == "sha256="+hex.EncodeToString(mac.Sum(nil))
	timer := time.NewTimer(r.delay)
	select {
	case <-timer.C:
	case <-req.Context().Done():
		timer.Stop()
		return
	}
	var msg struct {
		PassID string `json:"passId"`
	}
	_ = json.Unmarshal(body, &msg)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if !good {
		r.badSignature++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if _, seen := r.first[msg.PassID]; seen {
		r.duplicates++
	} else {
		r.first[msg.PassID] = now
	}
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns when each of passIDs first arrived, and how many did.
func (r *receiver) delivered(passIDs []string) (map[string]time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(passIDs))
	for _, id := range passIDs {
		if at, ok := r.first[id]; ok {
			out[id] = at
		}
	}
	return out, len(out)
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
