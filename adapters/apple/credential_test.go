package apple_test

import (
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/apple/appletest"
)

func TestEncodeCertificate_roundTripsAndDecodeKeepsDataOutOfErrors(t *testing.T) {
	pki := appletest.NewPKI(t)
	c := loadCertificate(t, pki)
	data, err := apple.EncodeCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := apple.DecodeCertificate(data)
	if err != nil {
		t.Fatalf("DecodeCertificate: %v", err)
	}
	if back.PassTypeID != appletest.PassTypeID || back.TeamID != appletest.TeamID || !back.Leaf.Equal(c.Leaf) || !back.WWDR.Equal(c.WWDR) {
		t.Errorf("decoded %v, want %v", back, c)
	}
	if _, err := apple.Build(testTemplate(t), renderPass(t, testTemplate(t), back, "P-1", ""), back, time.Now()); err != nil {
		t.Errorf("the decoded certificate does not sign: %v", err)
	}
	for _, bad := range []string{`not json`, `{"certificate":1}`, `{"certificate":"x","privateKey":"y","wwdr":"z"}`} {
		if _, err := apple.DecodeCertificate([]byte(bad)); err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("DecodeCertificate(%s) = %v", bad, err)
		}
	}
}
