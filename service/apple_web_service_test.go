package service_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/app/rebuild"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/service"
)

const walletTemplate = `{
  "formatVersion": 1,
  "passTypeIdentifier": "pass.com.example.test",
  "teamIdentifier": "TEMPLATE",
  "organizationName": "Example",
  "description": "Loyalty card",
  "storeCard": {"primaryFields": [{"key": "points", "label": "Points", "value": 0, "changeMessage": "You have %@ points"}]}
}`

// wallet is passpush with tenants acme and bravo that both issue Apple passes of type loyalty under the test
// Pass Type ID, and a device that speaks the PassKit web service.
type wallet struct {
	*harness
}

func startWallet(t *testing.T) wallet {
	t.Helper()
	h := startWithTenant(t)
	h.addTenant("bravo")
	pki := appletest.NewPKI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pass.json"), []byte(walletTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "icon.png"), []byte("icon"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tenantID := range []string{"acme", "bravo"} {
		_, err := h.svc.App.Commands.AddAppleCertificate.Handle(ctx, command.AddAppleCertificate{TenantID: tenantID,
			PassTypeID: appletest.PassTypeID, Files: command.AppleCertificateFiles{CertificatePEM: pki.Pass.CertPEM,
				PrivateKeyPEM: pki.Pass.KeyPEM, WWDR: pki.WWDR.CertPEM}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.App.Commands.PutAppleTemplate.Handle(ctx, command.PutAppleTemplate{TenantID: tenantID, PassType: "loyalty", Dir: dir}); err != nil {
			t.Fatal(err)
		}
	}
	return wallet{h}
}

// issue registers a pass and builds it, as an install link would, and returns its authenticationToken as the
// device finds it in pass.json.
func (w wallet) issue(tenantID, passID string) string {
	w.t.Helper()
	w.putPass(tenantID, passID, `{"passType":"loyalty","email":"`+passID+`@example.com","data":{"points":"1"}}`)
	file, err := w.svc.App.Queries.ApplePass.Handle(context.Background(), query.ApplePass{TenantID: tenantID, PassID: passID})
	if err != nil {
		w.t.Fatal(err)
	}
	return passJSONOf(w.t, file.PKPass)["authenticationToken"].(string)
}

func passJSONOf(t *testing.T, pkpass []byte) map[string]any {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("pass.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m map[string]any
	if err := json.NewDecoder(f).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// device calls the web service as Wallet does.
func (w wallet) device(method, tenantID, path, token string, body string, header ...string) response {
	w.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.url+"/api/"+tenantID+"/apple/v1"+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "ApplePass "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return w.send(req)
}

const typeID = appletest.PassTypeID

func registration(device, passID string) string {
	return "/devices/" + device + "/registrations/" + typeID + "/" + passID
}

func (w wallet) register(tenantID, device, passID, token, pushToken string) response {
	w.t.Helper()
	return w.device(http.MethodPost, tenantID, registration(device, passID), token, `{"pushToken":"`+pushToken+`"}`)
}

func (w wallet) serials(tenantID, device, since string) response {
	w.t.Helper()
	path := "/devices/" + device + "/registrations/" + typeID
	if since != "" {
		path += "?passesUpdatedSince=" + since
	}
	return w.device(http.MethodGet, tenantID, path, "", "")
}

type serialList struct {
	SerialNumbers []string `json:"serialNumbers"`
	LastUpdated   string   `json:"lastUpdated"`
}

func (w wallet) serialList(tenantID, device, since string) serialList {
	w.t.Helper()
	res := w.serials(tenantID, device, since)
	if res.status != http.StatusOK {
		w.t.Fatalf("serials since %q: %d %s", since, res.status, res.body)
	}
	var l serialList
	if err := json.Unmarshal(res.body, &l); err != nil {
		w.t.Fatalf("serials body %s: %v", res.body, err)
	}
	return l
}

func (w wallet) devices(tenantID, passID string) []string {
	w.t.Helper()
	var ids []string
	for _, d := range w.deviceRows(tenantID, passID) {
		ids = append(ids, d[0]+"="+d[1])
	}
	return ids
}

// deviceRows reads the registrations read model: [device, push token] of each active registration.
func (w wallet) deviceRows(tenantID, passID string) [][2]string {
	w.t.Helper()
	rows, err := w.svc.DB.Reader.Query(`SELECT device_library_id, push_token FROM apple_registrations
		WHERE tenant_id = $1 AND pass_id = $2 AND active ORDER BY device_library_id`, tenantID, passID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var d [2]string
		if err := rows.Scan(&d[0], &d[1]); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func (w wallet) eventuallyDevices(tenantID, passID string, want ...string) {
	w.t.Helper()
	eventually(w.t, 10*time.Second, "registrations "+strings.Join(want, ","), func() bool {
		return slices.Equal(w.devices(tenantID, passID), want)
	})
}

func TestAppleWebService_registerThenAlreadyRegisteredThenNewPushToken(t *testing.T) {
	w := startWallet(t)
	token := w.issue("acme", "p1")
	if len(token) < 32 {
		t.Fatalf("authenticationToken %q is shorter than 32 characters", token)
	}
	if res := w.register("acme", "dev1", "p1", token, "aaa111"); res.status != http.StatusCreated {
		t.Fatalf("first registration: %d %s, want 201", res.status, res.body)
	}
	if res := w.register("acme", "dev1", "p1", token, "aaa111"); res.status != http.StatusOK {
		t.Fatalf("same registration again: %d %s, want 200", res.status, res.body)
	}
	w.eventuallyDevices("acme", "p1", "dev1=aaa111")
	if res := w.register("acme", "dev1", "p1", token, "bbb222"); res.status != http.StatusOK {
		t.Fatalf("new push token: %d %s, want 200", res.status, res.body)
	}
	w.eventuallyDevices("acme", "p1", "dev1=bbb222")
	if again := w.issue("acme", "p1"); again != token {
		t.Errorf("the token changed from %q to %q", token, again)
	}
	if got := w.auditTypes("/api/acme/audit?passId=p1"); count(got, "DeviceRegistered") != 2 {
		t.Errorf("audit log %v: want two DeviceRegistered", got)
	}
}

// TestAppleWebService_wrongTokenAndUnknownPassLookTheSame: a caller can't tell a serial that exists from one
// that doesn't, and tenant B's token is refused on tenant A's pass.
func TestAppleWebService_wrongTokenAndUnknownPassLookTheSame(t *testing.T) {
	w := startWallet(t)
	token := w.issue("acme", "p1")
	bravoToken := w.issue("bravo", "p1")
	w.putPass("acme", "never-built", `{"passType":"loyalty","data":{}}`)

	wrong := w.register("acme", "dev1", "p1", strings.Repeat("0", 64), "aaa")
	cases := map[string]response{
		"unknown pass":                w.register("acme", "dev1", "nope", token, "aaa"),
		"pass never built":            w.register("acme", "dev1", "never-built", token, "aaa"),
		"no token":                    w.register("acme", "dev1", "p1", "", "aaa"),
		"bravo's token on acme's":     w.register("acme", "dev1", "p1", bravoToken, "aaa"),
		"unknown tenant":              w.register("nobody", "dev1", "p1", token, "aaa"),
		"other pass type":             w.device(http.MethodPost, "acme", "/devices/dev1/registrations/pass.com.example.other/p1", token, `{"pushToken":"a"}`),
		"unregister with wrong token": w.device(http.MethodDelete, "acme", registration("dev1", "p1"), bravoToken, ""),
		"fetch with wrong token":      w.device(http.MethodGet, "acme", "/passes/"+typeID+"/p1", bravoToken, ""),
		"fetch unknown pass":          w.device(http.MethodGet, "acme", "/passes/"+typeID+"/nope", token, ""),
	}
	if wrong.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %s, want 401", wrong.status, wrong.body)
	}
	for name, res := range cases {
		if res.status != http.StatusUnauthorized || !bytes.Equal(res.body, wrong.body) {
			t.Errorf("%s: %d %s, want 401 %s", name, res.status, res.body, wrong.body)
		}
	}
	if res := w.register("bravo", "dev1", "p1", bravoToken, "aaa"); res.status != http.StatusCreated {
		t.Errorf("bravo's own pass: %d %s, want 201", res.status, res.body)
	}
	w.eventuallyDevices("bravo", "p1", "dev1=aaa")
	if got := w.devices("acme", "p1"); len(got) != 0 {
		t.Errorf("acme's pass has devices %v", got)
	}
}

// TestAppleWebService_serialsSinceTag: the device lists its passes, then nothing (204) until a journey updates
// one, whose serial then shows up with a later tag, and the pass it fetches has the new value.
func TestAppleWebService_serialsSinceTag(t *testing.T) {
	w := startWallet(t)
	tokens := map[string]string{}
	for _, id := range []string{"p1", "p2"} {
		token := w.issue("acme", id)
		tokens[id] = token
		if res := w.register("acme", "dev1", id, token, "aaa"); res.status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", id, res.status, res.body)
		}
	}
	w.issue("acme", "p3") // not registered on dev1
	w.eventuallyDevices("acme", "p2", "dev1=aaa")

	all := w.serialList("acme", "dev1", "")
	if !slices.Equal(all.SerialNumbers, []string{"p1", "p2"}) || all.LastUpdated == "" {
		t.Fatalf("all serials: %+v", all)
	}
	if res := w.serials("acme", "dev1", all.LastUpdated); res.status != http.StatusNoContent {
		t.Fatalf("nothing changed since %s: %d %s, want 204", all.LastUpdated, res.status, res.body)
	}
	if res := w.serials("acme", "other-device", ""); res.status != http.StatusNoContent {
		t.Fatalf("a device with no passes: %d %s, want 204", res.status, res.body)
	}
	if got := w.serialList("acme", "dev1", "not-a-tag"); len(got.SerialNumbers) != 2 {
		t.Errorf("a tag of another server lists every pass: %+v", got)
	}

	jb := newJourneyBuilder(w.harness)
	wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims("entry-1", in("passId", "p2"), in("points", "42")))), 1)
	var changed serialList
	eventually(t, 10*time.Second, "p2 listed as changed", func() bool {
		res := w.serials("acme", "dev1", all.LastUpdated)
		if res.status != http.StatusOK {
			return false
		}
		return json.Unmarshal(res.body, &changed) == nil && slices.Equal(changed.SerialNumbers, []string{"p2"})
	})
	if changed.LastUpdated == all.LastUpdated {
		t.Errorf("lastUpdated stayed %s", changed.LastUpdated)
	}
	if res := w.serials("acme", "dev1", changed.LastUpdated); res.status != http.StatusNoContent {
		t.Errorf("since the new tag: %d %s, want 204", res.status, res.body)
	}
	res := w.device(http.MethodGet, "acme", "/passes/"+typeID+"/p2", tokens["p2"], "")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/vnd.apple.pkpass" {
		t.Fatalf("fetch: %d %s %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	fields := passJSONOf(t, res.body)["storeCard"].(map[string]any)["primaryFields"].([]any)
	if v := fields[0].(map[string]any)["value"]; fmt.Sprint(v) != "42" {
		t.Errorf("points = %v, want 42; the read model has %v", v, w.passView("acme", "p2"))
	}
}

// TestAppleWebService_passLastModified: Last-Modified on GET and HEAD, 304 when If-Modified-Since is not older,
// and a change of the pass, even within the same second, serves it again.
func TestAppleWebService_passLastModified(t *testing.T) {
	w := startWallet(t)
	token := w.issue("acme", "p1")
	path := "/passes/" + typeID + "/p1"
	first := w.device(http.MethodGet, "acme", path, token, "")
	lastModified := first.header.Get("Last-Modified")
	if first.status != http.StatusOK || lastModified == "" || len(first.body) == 0 {
		t.Fatalf("fetch: %d Last-Modified %q, %d bytes", first.status, lastModified, len(first.body))
	}
	head := w.device(http.MethodHead, "acme", path, token, "")
	if head.status != http.StatusOK || head.header.Get("Last-Modified") != lastModified || len(head.body) != 0 {
		t.Errorf("HEAD: %d Last-Modified %q, %d bytes", head.status, head.header.Get("Last-Modified"), len(head.body))
	}
	if res := w.device(http.MethodGet, "acme", path, token, "", "If-Modified-Since", lastModified); res.status != http.StatusNotModified {
		t.Errorf("If-Modified-Since %s: %d, want 304", lastModified, res.status)
	}
	older := first.header.Get("Last-Modified")
	if tm, err := http.ParseTime(older); err == nil {
		older = tm.Add(-time.Hour).Format(http.TimeFormat)
	}
	if res := w.device(http.MethodGet, "acme", path, token, "", "If-Modified-Since", older); res.status != http.StatusOK {
		t.Errorf("If-Modified-Since an hour before: %d, want 200", res.status)
	}
	w.putPass("acme", "p1", `{"passType":"loyalty","email":"p1@example.com","data":{"points":"2"}}`)
	res := w.device(http.MethodGet, "acme", path, token, "", "If-Modified-Since", lastModified)
	if res.status != http.StatusOK || res.header.Get("Last-Modified") == lastModified {
		t.Errorf("after a change: %d Last-Modified %q (was %q), want 200 and a later one", res.status, res.header.Get("Last-Modified"), lastModified)
	}
}

func TestAppleWebService_unregister(t *testing.T) {
	w := startWallet(t)
	token := w.issue("acme", "p1")
	for _, d := range []string{"dev1", "dev2"} {
		if res := w.register("acme", d, "p1", token, "aaa"); res.status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", d, res.status, res.body)
		}
	}
	w.eventuallyDevices("acme", "p1", "dev1=aaa", "dev2=aaa")
	if res := w.device(http.MethodDelete, "acme", registration("dev1", "p1"), token, ""); res.status != http.StatusOK {
		t.Fatalf("unregister: %d %s", res.status, res.body)
	}
	if res := w.device(http.MethodDelete, "acme", registration("dev1", "p1"), token, ""); res.status != http.StatusOK {
		t.Fatalf("unregister again: %d %s", res.status, res.body)
	}
	w.eventuallyDevices("acme", "p1", "dev2=aaa")
	if res := w.serials("acme", "dev1", ""); res.status != http.StatusNoContent {
		t.Errorf("serials of the unregistered device: %d %s, want 204", res.status, res.body)
	}
	events := w.auditAll("acme", "passId=p1", 100)
	var reasons []string
	for _, e := range events {
		if e.Type == "DeviceUnregistered" {
			reasons = append(reasons, e.data(t)["reason"].(string))
		}
	}
	if !slices.Equal(reasons, []string{"device"}) {
		t.Errorf("DeviceUnregistered reasons in the audit log: %v, want [device]", reasons)
	}
	// A registration again is new.
	if res := w.register("acme", "dev1", "p1", token, "ccc"); res.status != http.StatusCreated {
		t.Errorf("register after unregister: %d %s, want 201", res.status, res.body)
	}
}

func TestAppleWebService_log(t *testing.T) {
	w := startWallet(t)
	res := w.device(http.MethodPost, "acme", "/log", "", `{"logs":["[2026-01-01] Web service error for pass.com.example.test: bad"]}`)
	if res.status != http.StatusOK {
		t.Errorf("log: %d %s, want 200", res.status, res.body)
	}
	if res := w.device(http.MethodPost, "acme", "/log", "", `{"logs":`); res.status != http.StatusBadRequest {
		t.Errorf("a broken log body: %d %s, want 400", res.status, res.body)
	}
}

// TestAppleWebService_rebuildKeepsRegistrationsAndTokens: a projection rebuild replays the registrations and
// leaves the tokens as they were.
func TestAppleWebService_rebuildKeepsRegistrationsAndTokens(t *testing.T) {
	w := startWallet(t)
	token := w.issue("acme", "p1")
	for _, d := range []string{"dev1", "dev2"} {
		if res := w.register("acme", d, "p1", token, "aaa"); res.status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", d, res.status, res.body)
		}
	}
	if res := w.device(http.MethodDelete, "acme", registration("dev2", "p1"), token, ""); res.status != http.StatusOK {
		t.Fatalf("unregister: %d %s", res.status, res.body)
	}
	w.eventuallyDevices("acme", "p1", "dev1=aaa")
	before := w.serialList("acme", "dev1", "")
	w.settled(10 * time.Second)
	if _, err := w.svc.RebuildProjections(context.Background(), rebuild.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := w.devices("acme", "p1"); !slices.Equal(got, []string{"dev1=aaa"}) {
		t.Errorf("after a rebuild, devices %v, want [dev1=aaa]", got)
	}
	if after := w.serialList("acme", "dev1", ""); after.LastUpdated != before.LastUpdated {
		t.Errorf("after a rebuild, lastUpdated %s, was %s", after.LastUpdated, before.LastUpdated)
	}
	if res := w.register("acme", "dev1", "p1", token, "aaa"); res.status != http.StatusOK {
		t.Errorf("the old token after a rebuild: %d %s, want 200", res.status, res.body)
	}
	if _, err := w.svc.RebuildProjections(context.Background(), rebuild.Options{Projection: service.ProjectionAppleRegistrations}); err != nil {
		t.Fatal(err)
	}
	if got := w.devices("acme", "p1"); !slices.Equal(got, []string{"dev1=aaa"}) {
		t.Errorf("after rebuilding the registrations alone, devices %v", got)
	}
}
