package service_test

// Issue 11 §6 "Tests", end to end: a pass is installed from its link, a device registers through the PassKit web
// service, Journey Builder's signed execute calls update the pass through the real server and the real delivery
// stage, the fake APNs takes the pushes, and the device fetches what changed, as Wallet does.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
)

// appleJourney is acme with the test PKI's certificate, the loyalty template and the pass p-1, served at a
// public URL that is the test server's own, and the Apple channel pointed at a fake APNs.
type appleJourney struct {
	h    *harness
	jb   *journeyBuilder
	pki  *appletest.PKI
	apns *appletest.APNs
}

func newAppleJourney(t *testing.T) *appleJourney {
	t.Helper()
	return newAppleJourneyWith(t, func(*service.Config) {})
}

// newAppleJourneyWith is newAppleJourney with the service's config changed by configure.
func newAppleJourneyWith(t *testing.T, configure func(*service.Config)) *appleJourney {
	t.Helper()
	pki := appletest.NewPKI(t)
	apns := appletest.NewAPNs(t, pki)
	config := fastRetries(6)
	config.APNs.URL = apns.URL
	config.APNs.RootCAs = apns.RootCAs
	config.APNs.Clients.MaxAge = 100 * time.Millisecond
	configure(&config)

	// The server's address is known before passpush starts, so that pass.json's webServiceURL is where the
	// device finds the web service.
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	config.PublicURL = publicURL
	svc, handler := run(t, config, httpport.Config{AdminToken: adminToken, PublicURL: publicURL})
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	h := &harness{t: t, svc: svc, url: srv.URL}

	h.addTenant("acme")
	h.putCertificate("acme", pki)
	if res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t)); res.status != http.StatusOK {
		t.Fatalf("PUT template: %d %s", res.status, res.body)
	}
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"120"}}`)
	return &appleJourney{h: h, jb: newJourneyBuilder(h), pki: pki, apns: apns}
}

// install downloads p-1 from its install link, checks its signature, and returns a device holding it.
func (j *appleJourney) install(deviceID, pushToken string) *appleDevice {
	t := j.h.t
	t.Helper()
	link, _ := j.h.makeLink("acme", "p-1", "")
	res := j.h.get(link)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/vnd.apple.pkpass" {
		t.Fatalf("GET install link: %d %s %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	files := pkpassFiles(t, res.body)
	verifyWithOpenSSL(t, j.pki, files)
	p := readPassJSON(t, files)
	if p.WebServiceURL != j.h.url+"/api/acme/apple" || p.SerialNumber != "p-1" || p.PassTypeIdentifier != appletest.PassTypeID {
		t.Fatalf("pass.json = %s", files["pass.json"])
	}
	return &appleDevice{h: j.h, id: deviceID, pushToken: pushToken, pass: p}
}

// send executes one contact entry for p-1 with a new points balance and a message.
func (j *appleJourney) send(entry, points, message string) {
	j.h.t.Helper()
	args := []map[string]any{in("passId", "p-1"), in("points", points)}
	if message != "" {
		args = append(args, in("message", message))
	}
	wantScheduled(j.h.t, j.jb.execute("acme", j.jb.sign(j.jb.executeClaims(entry, args...))), 1)
}

// appleResult waits for the outcome of entry's update of p-1 and returns its Apple channel's result.
func (j *appleJourney) appleResult(entry string) map[string]any {
	t := j.h.t
	t.Helper()
	o := j.h.outcomeOf("p-1", entry)
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s: %s (%s) %v, want PushUpdateEmitted", entry, o.typ, o.reason, o.channels)
	}
	return o.channelResult(t, "apple")
}

// devicesOfP1 waits until the registrations read model lists exactly these devices of p-1.
func (j *appleJourney) devicesOfP1(want ...string) {
	j.h.t.Helper()
	wallet{j.h}.eventuallyDevices("acme", "p-1", want...)
}

// tokensPushed returns the tokens of the pushes the fake APNs took, checking each was a well-formed push on the
// Pass Type ID.
func (j *appleJourney) tokensPushed() []string {
	t := j.h.t
	t.Helper()
	if refused := j.apns.Refused(); len(refused) != 0 {
		t.Fatalf("the fake APNs refused requests: %v", refused)
	}
	var tokens []string
	for _, p := range j.apns.Pushes() {
		if p.Topic != appletest.PassTypeID {
			t.Errorf("a push on topic %q, want the Pass Type ID %s", p.Topic, appletest.PassTypeID)
		}
		tokens = append(tokens, p.Token)
	}
	return tokens
}

// appleDevice is an iPhone holding one pass: it speaks the PassKit web service at the pass's webServiceURL, with
// the pass's authenticationToken.
type appleDevice struct {
	h         *harness
	id        string
	pushToken string
	pass      passJSON
}

func (d *appleDevice) call(method, path, body string, header ...string) response {
	d.h.t.Helper()
	req, err := http.NewRequest(method, d.pass.WebServiceURL+"/v1"+path, strings.NewReader(body))
	if err != nil {
		d.h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return d.h.send(req)
}

func (d *appleDevice) auth() []string {
	return []string{"Authorization", "ApplePass " + d.pass.AuthenticationToken}
}

func (d *appleDevice) registrationPath() string {
	return "/devices/" + d.id + "/registrations/" + d.pass.PassTypeIdentifier + "/" + d.pass.SerialNumber
}

// register asks for the pass's updates and wants 201.
func (d *appleDevice) register() {
	d.h.t.Helper()
	res := d.call(http.MethodPost, d.registrationPath(), `{"pushToken":"`+d.pushToken+`"}`, d.auth()...)
	if res.status != http.StatusCreated {
		d.h.t.Fatalf("%s registers: %d %s, want 201", d.id, res.status, res.body)
	}
}

// unregister stops the pass's updates and wants 200.
func (d *appleDevice) unregister() {
	d.h.t.Helper()
	if res := d.call(http.MethodDelete, d.registrationPath(), "", d.auth()...); res.status != http.StatusOK {
		d.h.t.Fatalf("%s unregisters: %d %s, want 200", d.id, res.status, res.body)
	}
}

// serials lists the device's passes changed since tag (all of them when tag is empty); none on 204.
func (d *appleDevice) serials(tag string) serialList {
	d.h.t.Helper()
	path := "/devices/" + d.id + "/registrations/" + d.pass.PassTypeIdentifier
	if tag != "" {
		path += "?passesUpdatedSince=" + tag
	}
	res := d.call(http.MethodGet, path, "")
	var l serialList
	switch res.status {
	case http.StatusNoContent:
		return l
	case http.StatusOK:
		if err := json.Unmarshal(res.body, &l); err != nil {
			d.h.t.Fatalf("serials body %s: %v", res.body, err)
		}
		return l
	}
	d.h.t.Fatalf("serials since %q: %d %s", tag, res.status, res.body)
	return l
}

// fetch gets the pass, with If-Modified-Since when it is not empty.
func (d *appleDevice) fetch(ifModifiedSince string) response {
	d.h.t.Helper()
	header := d.auth()
	if ifModifiedSince != "" {
		header = append(header, "If-Modified-Since", ifModifiedSince)
	}
	return d.call(http.MethodGet, "/passes/"+d.pass.PassTypeIdentifier+"/"+d.pass.SerialNumber, "", header...)
}

// backField returns the back field of pass.json with the key, or nil.
func backField(p passJSON, key string) map[string]any {
	for _, f := range p.StoreCard.BackFields {
		if f["key"] == key {
			return f
		}
	}
	return nil
}

func TestAppleJourney_anExecutePushesTheDeviceWhichFetchesTheNewPass(t *testing.T) {
	t.Parallel()
	j := newAppleJourney(t)
	dev := j.install("dev-1", "a1b2c3d4")
	dev.register()
	j.devicesOfP1("dev-1=a1b2c3d4")
	before := dev.serials("")
	if !slices.Equal(before.SerialNumbers, []string{"p-1"}) || before.LastUpdated == "" {
		t.Fatalf("the device's serials after registering: %+v", before)
	}

	j.send("entry-1", "150", "Double points this weekend")
	apple := j.appleResult("entry-1")
	if apple["outcome"] != "delivered" || fmt.Sprint(apple["pushed"]) != "[dev-1]" || apple["attempts"] != 1.0 {
		t.Errorf("apple result %v, want dev-1 pushed on attempt 1", apple)
	}
	if got := j.tokensPushed(); !slices.Equal(got, []string{"a1b2c3d4"}) {
		t.Fatalf("the fake APNs took pushes to %v, want one to the device's token", got)
	}

	// Wallet, woken by the push, asks what changed since its tag and fetches it.
	changed := dev.serials(before.LastUpdated)
	if !slices.Equal(changed.SerialNumbers, []string{"p-1"}) || changed.LastUpdated == before.LastUpdated {
		t.Fatalf("serials since %s: %+v, want p-1 with a later tag", before.LastUpdated, changed)
	}
	res := dev.fetch("")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/vnd.apple.pkpass" || res.header.Get("Last-Modified") == "" {
		t.Fatalf("fetch: %d %v %s", res.status, res.header, res.body)
	}
	files := pkpassFiles(t, res.body)
	verifyWithOpenSSL(t, j.pki, files)
	p := readPassJSON(t, files)
	if v := p.StoreCard.PrimaryFields[0]["value"]; fmt.Sprint(v) != "150" {
		t.Errorf("points = %v, want 150", v)
	}
	msg := backField(p, "message")
	if msg == nil || msg["value"] != "Double points this weekend" || msg["changeMessage"] != "%@" {
		t.Errorf("back field message = %v, want the update's message with changeMessage %%@; pass.json %s", msg, files["pass.json"])
	}
	if m := backField(p, "member"); m == nil || m["value"] != "c-1" {
		t.Errorf("the template's back field member = %v, want c-1", m)
	}
	if p.AuthenticationToken != dev.pass.AuthenticationToken {
		t.Error("the authenticationToken changed")
	}
	if p.StoreCard.PrimaryFields[0]["changeMessage"] != "You have %@ points" {
		t.Errorf("the template's changeMessage on points was not kept: %v", p.StoreCard.PrimaryFields[0])
	}

	// Nothing changed since: 304.
	if again := dev.fetch(res.header.Get("Last-Modified")); again.status != http.StatusNotModified {
		t.Errorf("fetch with If-Modified-Since %s: %d, want 304", res.header.Get("Last-Modified"), again.status)
	}

	// The pass is removed from Wallet: the next update pushes nothing.
	dev.unregister()
	j.devicesOfP1()
	j.send("entry-2", "175", "Another offer")
	if apple := j.appleResult("entry-2"); apple["outcome"] != "not_installed" || apple["pushed"] != nil {
		t.Errorf("apple result after unregistering %v, want not_installed", apple)
	}
	j.h.settled(10 * time.Second)
	if got := j.tokensPushed(); len(got) != 1 {
		t.Errorf("the fake APNs took pushes to %v after the device unregistered, want the first one only", got)
	}
}

func TestAppleJourney_aDeviceAPNsAnswers410IsForgotten(t *testing.T) {
	t.Parallel()
	j := newAppleJourney(t)
	gone := j.install("dev-gone", "dead0001")
	kept := j.install("dev-kept", "beef0002")
	gone.register()
	kept.register()
	j.devicesOfP1("dev-gone=dead0001", "dev-kept=beef0002")
	j.apns.Answer("dead0001", appletest.AnswerGone)

	j.send("entry-1", "150", "Welcome")
	apple := j.appleResult("entry-1")
	reasons, _ := apple["removedReasons"].(map[string]any)
	if apple["outcome"] != "delivered" || fmt.Sprint(apple["pushed"]) != "[dev-kept]" ||
		fmt.Sprint(apple["removed"]) != "[dev-gone]" || reasons["dev-gone"] != "apns_410" {
		t.Errorf("apple result %v, want dev-kept pushed and dev-gone removed with apns_410", apple)
	}
	j.devicesOfP1("dev-kept=beef0002")
	var unregistered []string
	for _, e := range j.h.auditAll("acme", "passId=p-1", 100) {
		if e.Type == "DeviceUnregistered" {
			d := e.data(t)
			unregistered = append(unregistered, fmt.Sprint(d["deviceLibraryId"], "=", d["reason"]))
		}
	}
	if !slices.Equal(unregistered, []string{"dev-gone=apns_410"}) {
		t.Errorf("DeviceUnregistered in the audit log: %v, want [dev-gone=apns_410]", unregistered)
	}

	j.send("entry-2", "175", "")
	if apple := j.appleResult("entry-2"); apple["outcome"] != "delivered" || fmt.Sprint(apple["pushed"]) != "[dev-kept]" || apple["removed"] != nil {
		t.Errorf("the next update's apple result %v, want dev-kept alone", apple)
	}
	got := j.tokensPushed()
	if len(got) == 3 {
		slices.Sort(got[:2])
	}
	if want := []string{"beef0002", "dead0001", "beef0002"}; !slices.Equal(got, want) {
		t.Errorf("the fake APNs took pushes to %v, want %v: the forgotten device is not pushed again", got, want)
	}
}

func TestAppleJourney_aRetryAfterA500PushesOnlyTheDeviceNotPushed(t *testing.T) {
	t.Parallel()
	j := newAppleJourney(t)
	ok := j.install("dev-ok", "aaaa0001")
	flaky := j.install("dev-flaky", "bbbb0002")
	ok.register()
	flaky.register()
	j.devicesOfP1("dev-flaky=bbbb0002", "dev-ok=aaaa0001")
	j.apns.Answer("bbbb0002", appletest.AnswerInternalError, appletest.AnswerOK)

	j.send("entry-1", "150", "Welcome")
	apple := j.appleResult("entry-1")
	if apple["outcome"] != "delivered" || fmt.Sprint(apple["pushed"]) != "[dev-flaky dev-ok]" || apple["attempts"] != 2.0 {
		t.Errorf("apple result %v, want both devices pushed after 2 attempts", apple)
	}
	got := j.tokensPushed()
	if len(got) != 3 {
		t.Fatalf("the fake APNs took pushes to %v, want 3: both devices, then the one that got a 500", got)
	}
	first := slices.Sorted(slices.Values(got[:2]))
	if !slices.Equal(first, []string{"aaaa0001", "bbbb0002"}) || got[2] != "bbbb0002" {
		t.Errorf("the fake APNs took pushes to %v, want both devices, then bbbb0002 alone", got)
	}
	// The device that got the retried push finds the update.
	res := flaky.fetch("")
	if v := readPassJSON(t, pkpassFiles(t, res.body)).StoreCard.PrimaryFields[0]["value"]; fmt.Sprint(v) != "150" {
		t.Errorf("points = %v after the retry, want 150", v)
	}
}

func TestAppleJourney_signedAheadEachUpdateIsTheVersionTheDeviceFetches(t *testing.T) {
	t.Parallel()
	j := newAppleJourneyWith(t, func(c *service.Config) { c.APNs.SignAhead = true })
	dev := j.install("dev-1", "a1b2c3d4")
	dev.register()
	j.devicesOfP1("dev-1=a1b2c3d4")
	tag := dev.serials("").LastUpdated
	lastModified := ""
	for i, points := range []string{"150", "175"} {
		entry := fmt.Sprintf("entry-%d", i+1)
		j.send(entry, points, "")
		if apple := j.appleResult(entry); apple["outcome"] != "delivered" || fmt.Sprint(apple["pushed"]) != "[dev-1]" {
			t.Fatalf("%s: apple result %v, want dev-1 pushed", entry, apple)
		}
		changed := dev.serials(tag)
		if !slices.Equal(changed.SerialNumbers, []string{"p-1"}) {
			t.Fatalf("%s: serials since %s: %+v, want p-1", entry, tag, changed)
		}
		tag = changed.LastUpdated
		res := dev.fetch(lastModified)
		if res.status != http.StatusOK {
			t.Fatalf("%s: fetch with If-Modified-Since %q: %d %s, want the new version", entry, lastModified, res.status, res.body)
		}
		files := pkpassFiles(t, res.body)
		verifyWithOpenSSL(t, j.pki, files)
		if v := readPassJSON(t, files).StoreCard.PrimaryFields[0]["value"]; fmt.Sprint(v) != points {
			t.Fatalf("%s: points = %v, want %s", entry, v, points)
		}
		lastModified = res.header.Get("Last-Modified")
		if again := dev.fetch(lastModified); again.status != http.StatusNotModified {
			t.Fatalf("%s: fetch with If-Modified-Since %s: %d, want 304", entry, lastModified, again.status)
		}
	}
	if got := j.tokensPushed(); !slices.Equal(got, []string{"a1b2c3d4", "a1b2c3d4"}) {
		t.Fatalf("the fake APNs took pushes to %v, want one per update", got)
	}
}
