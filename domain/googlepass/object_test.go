package googlepass_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/passpush/passpush/domain/googlepass"
)

func loyaltyClass(template string) googlepass.Class {
	return googlepass.Class{IssuerID: "3388000000012345678", ObjectType: "loyalty",
		ClassID: "3388000000012345678.acme_loyalty", Template: json.RawMessage(template)}
}

func TestObjectID(t *testing.T) {
	for _, c := range []struct{ issuer, tenant, pass, want string }{
		{"3388", "acme", "p-1", "3388.acme_p-1"},
		{"3388", "acme", "ann@example.com", "3388.acme_ann_example.com"},
		{"3388", "acme", "a:b/c d", "3388.acme_a_b_c_d"},
		{"3388", "acme", "é€", "3388.acme___"},
		{"3388", "t.x", "A_z.9-", "3388.t.x_A_z.9-"},
	} {
		if got := googlepass.ObjectID(c.issuer, c.tenant, c.pass); got != c.want {
			t.Errorf("ObjectID(%q, %q, %q) = %q, want %q", c.issuer, c.tenant, c.pass, got, c.want)
		}
	}
}

func TestBuildObject(t *testing.T) {
	class := loyaltyClass(`{
		"state": "ACTIVE",
		"accountId": "{{customId}}",
		"accountName": "{{ email }}",
		"loyaltyPoints": {"label": "Points", "balance": {"string": "{{points}}"}},
		"barcode": {"type": "QR_CODE", "value": "{{passId}}"},
		"textModulesData": [{"id": "offer", "header": "Offer", "body": "old"}, {"id": "keep", "body": "{{nothing}}"}],
		"linksModuleData": {"uris": [{"uri": "https://example.com/{{passId}}", "id": 1}]},
		"version": 3.50
	}`)
	obj, err := googlepass.BuildObject(class, googlepass.Pass{
		TenantID: "acme", ID: "p 1", Email: "ann@example.com", CustomID: "c-1",
		Data: map[string]string{"points": "120", "tier": "{{passId}}", "offer": "20% off", "email": "not@this"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(obj)
	want := `{"accountId":"c-1","accountName":"ann@example.com","barcode":{"type":"QR_CODE","value":"p 1"},` +
		`"classId":"3388000000012345678.acme_loyalty","id":"3388000000012345678.acme_p_1",` +
		`"linksModuleData":{"uris":[{"id":1,"uri":"https://example.com/p 1"}]},` +
		`"loyaltyPoints":{"balance":{"string":"120"},"label":"Points"},"state":"ACTIVE",` +
		`"textModulesData":[{"body":"20% off","header":"offer","id":"offer"},{"body":"","id":"keep"},` +
		`{"body":"{{passId}}","header":"tier","id":"tier"}],"version":3.50}`
	if string(got) != want {
		t.Errorf("object\n got %s\nwant %s", got, want)
	}
}

func TestBuildObject_templateIsNotChanged(t *testing.T) {
	class := loyaltyClass(`{"header": "{{x}}"}`)
	before := string(class.Template)
	for _, v := range []string{"a", "b"} {
		obj, err := googlepass.BuildObject(class, googlepass.Pass{TenantID: "t", ID: "p", Data: map[string]string{"x": v}})
		if err != nil {
			t.Fatal(err)
		}
		if obj["header"] != v || obj["textModulesData"] != nil {
			t.Errorf("object = %v", obj)
		}
	}
	if string(class.Template) != before {
		t.Errorf("template changed: %s", class.Template)
	}
}

func TestClassCheck(t *testing.T) {
	good := loyaltyClass(`{"state":"ACTIVE"}`)
	if err := good.Check(); err != nil {
		t.Fatalf("good class: %v", err)
	}
	for name, c := range map[string]struct {
		change func(*googlepass.Class)
		want   string
	}{
		"unknown object type":   {func(c *googlepass.Class) { c.ObjectType = "boardingPass" }, "objectType"},
		"another issuer":        {func(c *googlepass.Class) { c.ClassID = "1234.acme" }, "must start with"},
		"no suffix":             {func(c *googlepass.Class) { c.ClassID = c.IssuerID + "." }, "after"},
		"bad suffix":            {func(c *googlepass.Class) { c.ClassID = c.IssuerID + ".a b" }, "after"},
		"no issuer":             {func(c *googlepass.Class) { c.IssuerID = "" }, "no issuer"},
		"template not object":   {func(c *googlepass.Class) { c.Template = json.RawMessage(`[1]`) }, "JSON object"},
		"template not JSON":     {func(c *googlepass.Class) { c.Template = json.RawMessage(`{"a":`) }, "not valid JSON"},
		"template two values":   {func(c *googlepass.Class) { c.Template = json.RawMessage(`{} {}`) }, "after the value"},
		"template with id":      {func(c *googlepass.Class) { c.Template = json.RawMessage(`{"id":"x"}`) }, `"id"`},
		"template with classId": {func(c *googlepass.Class) { c.Template = json.RawMessage(`{"classId":"x"}`) }, `"classId"`},
	} {
		c2 := good
		c.change(&c2)
		err := c2.Check()
		if !errors.Is(err, googlepass.ErrInvalidClass) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want ErrInvalidClass saying %q", name, err, c.want)
		}
		if _, err := googlepass.BuildObject(c2, googlepass.Pass{TenantID: "t", ID: "p"}); !errors.Is(err, googlepass.ErrInvalidClass) {
			t.Errorf("%s: BuildObject = %v, want ErrInvalidClass", name, err)
		}
	}
}

func TestExampleTemplate(t *testing.T) {
	template, err := os.ReadFile("../../examples/google-class/loyalty.json")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := googlepass.BuildObject(loyaltyClass(string(template)), googlepass.Pass{TenantID: "acme", ID: "p-1",
		Email: "ann@example.com", CustomID: "c-1", Data: map[string]string{"points": "120", "tier": "gold", "offer": "2 for 1"}})
	if err != nil {
		t.Fatal(err)
	}
	modules := obj["textModulesData"].([]any)
	if obj["accountName"] != "ann@example.com" || len(modules) != 2 || modules[0].(map[string]any)["body"] != "gold" {
		t.Errorf("object %v", obj)
	}
}

var objectIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// FuzzBuildObject: whatever the template and the data, the object is built or refused with ErrInvalidClass; a
// built object has the object id and class id, every string data value no placeholder names in a text module,
// and encodes as JSON.
func FuzzBuildObject(f *testing.F) {
	f.Add(`{"header":"{{a}}","textModulesData":[{"id":"b"}]}`, "a", "1", "b", "2", "p-1")
	f.Add(`{"x":["{{ b }}", {"y":"{{a}"}]}`, "a", "{{b}}", "b", "}}", "a/b")
	f.Add(`{"x":1e400}`, "", "", "", "", "")
	f.Fuzz(func(t *testing.T, template, k1, v1, k2, v2, passID string) {
		class := loyaltyClass(template)
		data := map[string]string{k1: v1, k2: v2}
		obj, err := googlepass.BuildObject(class, googlepass.Pass{TenantID: "acme", ID: passID + "x", Data: data})
		if err != nil {
			if !errors.Is(err, googlepass.ErrInvalidClass) {
				t.Fatalf("error %v does not wrap ErrInvalidClass", err)
			}
			return
		}
		id, _ := obj["id"].(string)
		if id != googlepass.ObjectID(class.IssuerID, "acme", passID+"x") || !objectIDPattern.MatchString(id) {
			t.Fatalf("id %q", id)
		}
		if obj["classId"] != class.ClassID {
			t.Fatalf("classId %v", obj["classId"])
		}
		if _, err := json.Marshal(obj); err != nil {
			t.Fatalf("object does not encode: %v", err)
		}
		modules, _ := obj["textModulesData"].([]any)
		for k, v := range data {
			if strings.Contains(template, k) && k != "" {
				continue // a placeholder may name it
			}
			found := false
			for _, m := range modules {
				if reflect.DeepEqual(m, map[string]any{"id": k, "header": k, "body": v}) {
					found = true
				}
			}
			if !found {
				t.Fatalf("data key %q has no text module in %v", k, modules)
			}
		}
	})
}
