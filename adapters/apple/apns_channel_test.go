package apple_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/push"
)

const apnsTenant = "tenant-a"

// apnsDevices is the registrations read model as the channel sees it: the devices of each pass.
type apnsDevices struct {
	mu     sync.Mutex
	byPass map[string][]apple.Device
	err    error
}

func (d *apnsDevices) Devices(_ context.Context, tenant, passID string) ([]apple.Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.byPass[tenant+"/"+passID]), d.err
}

func (d *apnsDevices) set(passID string, ds ...apple.Device) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byPass[apnsTenant+"/"+passID] = ds
}

// apnsDevice is a device of the test's Pass Type ID, whose push token is its id.
func apnsDevice(token string) apple.Device {
	return apple.Device{ID: "device-" + token, PassTypeID: appletest.PassTypeID, PushToken: token}
}

type apnsFixture struct {
	pki     *appletest.PKI
	apns    *appletest.APNs
	store   *credentials.Store
	devices *apnsDevices
	channel *apple.Channel
}

func newAPNsFixture(t *testing.T, cfg apple.ChannelConfig) *apnsFixture {
	t.Helper()
	f := &apnsFixture{pki: appletest.NewPKI(t), devices: &apnsDevices{byPass: map[string][]apple.Device{}}}
	f.apns = appletest.NewAPNs(t, f.pki)
	var err error
	if f.store, err = credentials.NewStore(sqldbtest.New(t), secretboxtest.New(t)); err != nil {
		t.Fatal(err)
	}
	if cfg.URL == "" {
		cfg.URL = f.apns.URL
	}
	cfg.RootCAs = f.apns.RootCAs
	if f.channel, err = apple.NewChannel(cfg, f.store, f.devices); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.channel.Close)
	return f
}

// putCertificate stores is as the tenant's certificate of its Pass Type ID, as `apple certificate add` does.
func (f *apnsFixture) putCertificate(t *testing.T, is *appletest.Issued, wwdr *appletest.Issued) {
	t.Helper()
	c, err := apple.Restore(is.CertPEM, is.KeyPEM, wwdr.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	data, err := apple.EncodeCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Put(context.Background(), apnsTenant, apple.KindCertificate, c.PassTypeID, data); err != nil {
		t.Fatal(err)
	}
}

func apnsUpdate(passID string) push.Update {
	return push.Update{EventID: "event-" + passID, TenantID: apnsTenant, PassID: passID, PassType: "loyalty", Revision: 2}
}

func apnsTarget(d apple.Device) push.Target {
	return push.Target{ID: d.ID, Credential: d.PassTypeID, Address: d.PushToken}
}

// noKeyIn fails the test if a reason holds key material.
func noKeyIn(t *testing.T, reasons ...string) {
	t.Helper()
	for _, r := range reasons {
		if strings.Contains(r, "PRIVATE KEY") || strings.Contains(r, "BEGIN") {
			t.Fatalf("a reason holds PEM: %s", r)
		}
	}
}

func TestAPNsChannel_targetsAreTheRegisteredDevices(t *testing.T) {
	// Whether a tenant has a certificate is cached for MaxAge: a short one lets the certificate added below count.
	const maxAge = 10 * time.Millisecond
	f := newAPNsFixture(t, apple.ChannelConfig{Clients: credentials.ClientsConfig{MaxAge: maxAge}})
	ctx := context.Background()
	if _, err := f.channel.Targets(ctx, apnsTenant, "p1"); !errors.Is(err, push.ErrNotSetUp) {
		t.Fatalf("targets of a tenant without an Apple certificate: %v, want push.ErrNotSetUp", err)
	}
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	time.Sleep(maxAge)
	targets, err := f.channel.Targets(ctx, apnsTenant, "p1")
	if err != nil || len(targets) != 0 {
		t.Fatalf("targets of a pass on no device: %v, %v; want none", targets, err)
	}
	f.devices.set("p1", apnsDevice("aa01"), apple.Device{ID: "device-2", PassTypeID: "pass.com.example.other", PushToken: "bb02"})
	targets, err = f.channel.Targets(ctx, apnsTenant, "p1")
	if err != nil {
		t.Fatal(err)
	}
	want := []push.Target{
		{ID: "device-aa01", Credential: appletest.PassTypeID, Address: "aa01"},
		{ID: "device-2", Credential: "pass.com.example.other", Address: "bb02"},
	}
	if !slices.Equal(targets, want) {
		t.Fatalf("targets %+v, want %+v", targets, want)
	}
	f.devices.err = errors.New("database down")
	if _, err := f.channel.Targets(ctx, apnsTenant, "p1"); err == nil || errors.Is(err, push.ErrNotSetUp) {
		t.Fatalf("targets when the devices cannot be read: %v, want the error", err)
	}
	if f.channel.Kind() != "apple" || !f.channel.LatestOnly() {
		t.Fatalf("kind %q, latest only %v: want apple, true", f.channel.Kind(), f.channel.LatestOnly())
	}
}

func TestAPNsChannel_eachAnswerHasItsOutcome(t *testing.T) {
	// The answers are given whatever the time; only "slow" is never given in time, as it comes after an hour. So
	// its timeout is another channel's, on the same APNs and store, and no other push depends on how fast a loaded
	// machine makes the TLS connection (a 1 s timeout for every push timed out the first one under -race).
	f := newAPNsFixture(t, apple.ChannelConfig{Timeout: time.Minute})
	short, err := apple.NewChannel(apple.ChannelConfig{URL: f.apns.URL, RootCAs: f.apns.RootCAs, Timeout: 100 * time.Millisecond},
		f.store, f.devices)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(short.Close)
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	f.apns.Answer("a410", appletest.AnswerGone)
	f.apns.Answer("a400", appletest.AnswerBadDeviceToken)
	f.apns.Answer("a401", appletest.AnswerUnregistered)
	f.apns.Answer("a429", appletest.AnswerTooManyReqs)
	f.apns.Answer("a500", appletest.AnswerInternalError)
	f.apns.Answer("a503", appletest.Answer{Status: 503, Reason: "ServiceUnavailable"})
	f.apns.Answer("a403", appletest.AnswerBadCertificate)
	f.apns.Answer("a413", appletest.Answer{Status: 413, Reason: "PayloadTooLarge"})
	f.apns.Answer("a404", appletest.Answer{Status: 400, Reason: "DeviceTokenNotForTopic"})
	f.apns.Answer("slow", appletest.Answer{Status: 200, Delay: time.Hour})
	cases := []struct {
		token  string
		kind   push.OutcomeKind
		reason string // what the reason has, or is for Gone
	}{
		{"a200", push.Delivered, ""},
		{"a410", push.Gone, "apns_410"},
		{"a400", push.Gone, "apns_bad_token"},
		{"a401", push.Gone, "apns_bad_token"},
		{"a429", push.Retry, "429 TooManyRequests"},
		{"a500", push.Retry, "500 InternalServerError"},
		{"a503", push.Retry, "503 ServiceUnavailable"},
		{"slow", push.Retry, "Timeout"},
		{"a403", push.Rejected, "403 BadCertificate"},
		{"a413", push.Rejected, "413 PayloadTooLarge"},
		{"a404", push.Rejected, "400 DeviceTokenNotForTopic"},
	}
	for _, c := range cases {
		t.Run(c.token, func(t *testing.T) {
			channel := f.channel
			if c.token == "slow" {
				channel = short
			}
			o := channel.Push(context.Background(), apnsTarget(apnsDevice(c.token)), apnsUpdate("p1"))
			noKeyIn(t, o.Reason)
			if o.Kind != c.kind || (c.kind == push.Gone && o.Reason != c.reason) || !strings.Contains(o.Reason, c.reason) {
				t.Fatalf("%s: %+v, want %s with %q", c.token, o, c.kind, c.reason)
			}
		})
	}
	if refused := f.apns.Refused(); len(refused) != 0 {
		t.Fatalf("the fake APNs refused pushes as malformed: %v", refused)
	}
	for _, p := range f.apns.Pushes() {
		if p.Topic != appletest.PassTypeID {
			t.Fatalf("push %+v: topic is not the Pass Type ID", p)
		}
	}
	// The slow push may time out before it reaches APNs: its 100 ms include its channel's TLS handshake.
	answered := slices.DeleteFunc(f.apns.Pushes(), func(p appletest.Push) bool { return p.Token == "slow" })
	if n := len(answered); n != len(cases)-1 {
		t.Fatalf("%d pushes besides the slow one, want %d", n, len(cases)-1)
	}
}

func TestAPNsChannel_aConnectionErrorIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there any more
	f := newAPNsFixture(t, apple.ChannelConfig{URL: "https://" + addr, Timeout: time.Second})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	o := f.channel.Push(context.Background(), apnsTarget(apnsDevice("aa01")), apnsUpdate("p1"))
	if o.Kind != push.Retry || !strings.Contains(o.Reason, "connection refused") {
		t.Fatalf("push to a closed port: %+v, want a retry", o)
	}
}

func TestAPNsChannel_withoutTheCertificateOfTheRegistrationItIsRejected(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	d := apple.Device{ID: "device-1", PassTypeID: "pass.com.example.other", PushToken: "aa01"}
	o := f.channel.Push(context.Background(), apnsTarget(d), apnsUpdate("p1"))
	if o.Kind != push.Rejected || !strings.Contains(o.Reason, `no Apple certificate for Pass Type ID "pass.com.example.other"`) {
		t.Fatalf("push without the certificate: %+v, want rejected, naming the Pass Type ID", o)
	}
	if n := len(f.apns.Pushes()); n != 0 {
		t.Fatalf("%d pushes reached APNs", n)
	}
}

func TestAPNsChannel_anExpiredCertificateIsRejectedWithoutAPush(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Expired(t), f.pki.WWDR)
	o := f.channel.Push(context.Background(), apnsTarget(apnsDevice("aa01")), apnsUpdate("p1"))
	noKeyIn(t, o.Reason)
	if o.Kind != push.Rejected || !strings.Contains(o.Reason, "expired") {
		t.Fatalf("push with an expired certificate: %+v, want rejected", o)
	}
	if n := len(f.apns.Pushes()); n != 0 {
		t.Fatalf("%d pushes reached APNs", n)
	}
}

// A certificate that APNs does not take (here, one the test root did not issue) gets no push through. The
// refusal comes at the TLS handshake, where the HTTP/2 client sees a connection error: it is retried.
func TestAPNsChannel_aCertificateAPNsRefusesGetsNoPushThrough(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{Timeout: 2 * time.Second})
	otherCA := f.pki.OtherCA(t)
	f.putCertificate(t, f.pki.IssuePass(t, "foreign", appletest.PassOptions{Issuer: otherCA}), otherCA)
	o := f.channel.Push(context.Background(), apnsTarget(apnsDevice("aa01")), apnsUpdate("p1"))
	noKeyIn(t, o.Reason)
	if o.Kind != push.Retry {
		t.Fatalf("push with a certificate APNs refuses: %+v, want a retry", o)
	}
	if n, c := len(f.apns.Pushes()), f.apns.Connections(); n != 0 || c != 0 {
		t.Fatalf("%d pushes and %d connections reached APNs, want none", n, c)
	}
}

func TestAPNsChannel_aTokenThatCannotBeOneIsGone(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	for _, token := range []string{"", "aa/../../x", "aa?b=1", "a b"} {
		o := f.channel.Push(context.Background(), apnsTarget(apnsDevice(token)), apnsUpdate("p1"))
		if o.Kind != push.Gone || o.Reason != apple.ReasonBadToken {
			t.Fatalf("token %q: %+v, want gone %s", token, o, apple.ReasonBadToken)
		}
	}
	if n := len(f.apns.Pushes()) + len(f.apns.Refused()); n != 0 {
		t.Fatalf("%d requests reached APNs", n)
	}
}

func TestAPNsChannel_oneConnectionCarriesEveryPush(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	ctx := context.Background()
	if o := f.channel.Push(ctx, apnsTarget(apnsDevice("first")), apnsUpdate("p0")); o.Kind != push.Delivered {
		t.Fatalf("first push: %+v", o)
	}
	var wg sync.WaitGroup
	outcomes := make([]push.Outcome, 200)
	for i := range outcomes {
		wg.Go(func() {
			outcomes[i] = f.channel.Push(ctx, apnsTarget(apnsDevice(fmt.Sprintf("%04x", i))), apnsUpdate(fmt.Sprint("p", i)))
		})
	}
	wg.Wait()
	for i, o := range outcomes {
		if o.Kind != push.Delivered {
			t.Fatalf("push %d: %+v", i, o)
		}
	}
	if n := len(f.apns.Pushes()); n != 201 {
		t.Fatalf("%d pushes, want 201", n)
	}
	if n := f.apns.Connections(); n != 1 {
		t.Fatalf("%d TLS connections for 201 pushes with one certificate, want 1", n)
	}
}

func TestAPNsChannel_aChangedCertificateGetsANewClient(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{Clients: credentials.ClientsConfig{MaxAge: 10 * time.Millisecond}})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	ctx := context.Background()
	if o := f.channel.Push(ctx, apnsTarget(apnsDevice("aa01")), apnsUpdate("p1")); o.Kind != push.Delivered {
		t.Fatalf("push: %+v", o)
	}
	renewed := f.pki.IssuePass(t, "renewed", appletest.PassOptions{})
	f.putCertificate(t, renewed, f.pki.WWDR)
	want := renewed.Cert.SerialNumber.String()
	// A bound on liveness, not on speed: under -race on a loaded machine a new client's handshake can take seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if o := f.channel.Push(ctx, apnsTarget(apnsDevice("aa01")), apnsUpdate("p1")); o.Kind != push.Delivered {
			t.Fatalf("push: %+v", o)
		}
		pushes := f.apns.Pushes()
		if pushes[len(pushes)-1].ClientSerial == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushes still made with the old certificate 30s after it changed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := f.apns.Connections(); n != 2 {
		t.Fatalf("%d TLS connections, want 2: one per certificate", n)
	}
	// The old client's connection is closed once it is replaced.
	for f.apns.OpenConnections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want only the new certificate's", f.apns.OpenConnections())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAPNsChannel_aRetryPushesOnlyTheDevicesNotPushed(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	f.devices.set("p1", apnsDevice("aa01"), apnsDevice("bb02"), apnsDevice("cc03"), apnsDevice("dd04"))
	f.apns.Answer("bb02", appletest.AnswerInternalError, appletest.AnswerOK)
	f.apns.Answer("cc03", appletest.AnswerGone)
	fanOut, err := push.NewFanOut(f.channel)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := push.Delivery{Update: apnsUpdate("p1")}

	first := fanOut.Push(ctx, d)
	if !first.Pending || len(first.Progress) != 1 {
		t.Fatalf("first attempt: %+v, want the Apple channel pending", first)
	}
	r := first.Progress[0]
	if r.Channel != "apple" || !slices.Equal(r.Pushed, []string{"device-aa01", "device-dd04"}) ||
		!slices.Equal(r.Removed, []string{"device-cc03"}) || !strings.Contains(r.Detail, "500") {
		t.Fatalf("first attempt: %+v", r)
	}
	if got := sortedCopy(f.apns.Tokens()); !slices.Equal(got, []string{"aa01", "bb02", "cc03", "dd04"}) {
		t.Fatalf("first attempt pushed %v", got)
	}

	f.apns.Reset()
	d.Attempts, d.Progress = 1, first.Progress
	second := fanOut.Push(ctx, d)
	if second.Pending || second.Failed() {
		t.Fatalf("second attempt: %+v, want settled and delivered", second)
	}
	r = second.Progress[0]
	if r.Outcome != push.ChannelDelivered || !slices.Equal(r.Pushed, []string{"device-aa01", "device-bb02", "device-dd04"}) ||
		!slices.Equal(r.Removed, []string{"device-cc03"}) || r.Attempts != 2 {
		t.Fatalf("second attempt: %+v", r)
	}
	if got := f.apns.Tokens(); !slices.Equal(got, []string{"bb02"}) {
		t.Fatalf("the retry pushed %v, want only bb02", got)
	}
	if n := f.apns.DistinctTokens(); n != 1 {
		t.Fatalf("the fake counts %d distinct tokens since its reset, want 1", n)
	}
}

// everyUpdate is a channel that takes every update, as the webhook does.
type everyUpdate struct {
	mu      sync.Mutex
	updates []int
}

func (*everyUpdate) Kind() string { return "webhook" }

func (*everyUpdate) Targets(context.Context, string, string) ([]push.Target, error) {
	return []push.Target{{ID: "default"}}, nil
}

func (r *everyUpdate) Push(_ context.Context, _ push.Target, u push.Update) push.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u.Revision)
	return push.Outcome{Kind: push.Delivered}
}

func TestAPNsChannel_aSupersededUpdateIsNotPushed(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	f.devices.set("p1", apnsDevice("aa01"))
	webhook := &everyUpdate{}
	fanOut, err := push.NewFanOut(webhook, f.channel)
	if err != nil {
		t.Fatal(err)
	}
	a := fanOut.Push(context.Background(), push.Delivery{Update: apnsUpdate("p1"), Superseded: true})
	if a.Pending || len(a.Progress) != 2 {
		t.Fatalf("attempt: %+v", a)
	}
	for _, r := range a.Progress {
		want := map[string]string{"webhook": push.ChannelDelivered, "apple": push.ChannelSuperseded}[r.Channel]
		if r.Outcome != want || !r.Delivered {
			t.Fatalf("%s: %+v, want %s", r.Channel, r, want)
		}
	}
	if n := len(f.apns.Pushes()); n != 0 {
		t.Fatalf("%d pushes of a superseded update reached APNs", n)
	}
	if len(webhook.updates) != 1 {
		t.Fatalf("the webhook got %d updates, want the superseded one too", len(webhook.updates))
	}
}

func TestAPNsChannel_refusesAConfigItCannotRunWith(t *testing.T) {
	store, err := credentials.NewStore(sqldbtest.New(t), secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []apple.ChannelConfig{
		{URL: "http://api.push.apple.com"},
		{URL: "api.push.apple.com"},
		{URL: "https://api.push.apple.com/3/device"},
		{Timeout: -time.Second},
	} {
		if _, err := apple.NewChannel(cfg, store, &apnsDevices{}); err == nil {
			t.Errorf("config %+v: no error", cfg)
		}
	}
	ch, err := apple.NewChannel(apple.ChannelConfig{}, store, &apnsDevices{})
	if err != nil {
		t.Fatalf("the default config: %v", err)
	}
	ch.Close()
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// BenchmarkAPNsChannel_push pushes through one certificate's client to a fake APNs that takes 20 ms per push,
// 64 pushes in flight.
func BenchmarkAPNsChannel_push(b *testing.B) {
	pki := appletest.NewPKI(b)
	fake := appletest.NewAPNs(b, pki)
	fake.SetDelay(20 * time.Millisecond)
	store, err := credentials.NewStore(sqldbtest.New(b), secretboxtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	c, err := apple.Restore(pki.Pass.CertPEM, pki.Pass.KeyPEM, pki.WWDR.CertPEM)
	if err != nil {
		b.Fatal(err)
	}
	data, err := apple.EncodeCertificate(c)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Put(context.Background(), apnsTenant, apple.KindCertificate, c.PassTypeID, data); err != nil {
		b.Fatal(err)
	}
	ch, err := apple.NewChannel(apple.ChannelConfig{URL: fake.URL, RootCAs: fake.RootCAs}, store, &apnsDevices{})
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	b.SetParallelism(64)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if o := ch.Push(context.Background(), apnsTarget(apnsDevice("aa01")), apnsUpdate("p1")); o.Kind != push.Delivered {
				b.Errorf("push: %+v", o)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}

// signAhead records the passes the channel asked to sign, and fails with err.
type signAhead struct {
	mu     sync.Mutex
	passes []string
	err    error
}

func (s *signAhead) SignAhead(_ context.Context, tenantID, passID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes = append(s.passes, tenantID+"/"+passID)
	return s.err
}

func (s *signAhead) signed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.passes)
}

func TestAPNsChannel_signsAPassOnADeviceBeforeItsPushes(t *testing.T) {
	f := newAPNsFixture(t, apple.ChannelConfig{})
	f.putCertificate(t, f.pki.Pass, f.pki.WWDR)
	signer := &signAhead{}
	f.channel.SignAheadWith(signer)
	ctx := context.Background()

	if _, err := f.channel.Targets(ctx, apnsTenant, "p1"); err != nil {
		t.Fatal(err)
	}
	if got := signer.signed(); len(got) != 0 {
		t.Fatalf("signed %v for a pass on no device, want nothing", got)
	}
	f.devices.set("p1", apnsDevice("aa01"), apnsDevice("bb02"))
	targets, err := f.channel.Targets(ctx, apnsTenant, "p1")
	if err != nil || len(targets) != 2 {
		t.Fatalf("targets %v, %v", targets, err)
	}
	if got := signer.signed(); !slices.Equal(got, []string{apnsTenant + "/p1"}) {
		t.Fatalf("signed %v before the pushes, want p1 once for its two devices", got)
	}

	// A pass that cannot be signed is pushed all the same: the device's fetch answers why.
	signer.err = errors.New("no template")
	f.devices.set("p2", apnsDevice("cc03"))
	targets, err = f.channel.Targets(ctx, apnsTenant, "p2")
	if err != nil || len(targets) != 1 {
		t.Fatalf("targets of a pass that cannot be signed: %v, %v; want its device", targets, err)
	}
	if o := f.channel.Push(ctx, targets[0], apnsUpdate("p2")); o.Kind != push.Delivered {
		t.Fatalf("push of a pass that cannot be signed: %+v, want delivered", o)
	}
}
