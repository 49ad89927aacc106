package service_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestManagementAPI_refusesSFMCSecretsThatAreShortTooManyOrAnotherTenants(t *testing.T) {
	t.Parallel()
	h := startWithTenant(t)
	acme := sfmcSecretOf("acme")

	res := h.admin(http.MethodPut, "/api/admin/tenants/globex", `{"sfmcSigningSecrets":["`+acme+`"]}`)
	wantError(t, res, http.StatusConflict, "sfmc_secret_in_use")
	if strings.Contains(string(res.body), acme) || strings.Contains(string(res.body), "acme") {
		t.Errorf("the answer names the secret or its tenant: %s", res.body)
	}
	// Also when globex exists and adds it beside its own.
	h.putTenant("globex", `{"sfmcSigningSecrets":["`+sfmcSecretOf("globex")+`"]}`)
	wantError(t, h.admin(http.MethodPut, "/api/admin/tenants/globex", `{"sfmcSigningSecrets":["`+sfmcSecretOf("globex")+`","`+acme+`"]}`),
		http.StatusConflict, "sfmc_secret_in_use")

	res = h.admin(http.MethodPut, "/api/admin/tenants/globex", `{"sfmcSigningSecrets":["fifteen-bytes!!"]}`)
	wantError(t, res, http.StatusBadRequest, "invalid_request")
	if msg := string(res.body); !strings.Contains(msg, "at least 16") || strings.Contains(msg, "fifteen-bytes!!") {
		t.Errorf("short secret: %s", msg)
	}
	res = h.admin(http.MethodPut, "/api/admin/tenants/globex",
		`{"sfmcSigningSecrets":["globex-sfmc-secret-1","globex-sfmc-secret-2","globex-sfmc-secret-3","globex-sfmc-secret-4"]}`)
	wantError(t, res, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(string(res.body), "at most 3") {
		t.Errorf("a fourth secret: %s", res.body)
	}
	// Three, for a rotation, are fine; globex kept its own secret through the refusals.
	h.putTenant("globex", `{"sfmcSigningSecrets":["globex-sfmc-secret-1","globex-sfmc-secret-2","globex-sfmc-secret-3"]}`)
	if got := h.admin(http.MethodGet, "/api/admin/tenants/globex", "").json(t)["sfmcSigningSecrets"]; got != 3.0 {
		t.Errorf("globex has %v secrets, want 3", got)
	}
}
