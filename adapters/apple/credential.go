package apple

import (
	"encoding/json"
	"fmt"
)

// KindCertificate is the credentials kind of a tenant's Pass Type ID certificates; each is named by its Pass Type
// ID ("pass.com.example.loyalty").
const KindCertificate = "apple"

// storedCertificate is the stored JSON of a certificate: its three PEMs. privateKey is a secret.
type storedCertificate struct {
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"privateKey"`
	WWDR        string `json:"wwdr"`
}

// EncodeCertificate returns the stored form of c (credentials kind KindCertificate, name c.PassTypeID). It is the
// one place that writes it; DecodeCertificate the one that reads it, for the pass builder and the APNs channel.
// The result holds the private key: it goes to the credential store and nowhere else.
func EncodeCertificate(c Certificate) ([]byte, error) {
	certPEM, keyPEM, wwdrPEM, err := c.ExportPEM()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(storedCertificate{Certificate: string(certPEM), PrivateKey: string(keyPEM), WWDR: string(wwdrPEM)})
	if err != nil {
		return nil, fmt.Errorf("encode Apple certificate %s: %w", c.PassTypeID, err)
	}
	return data, nil
}

// DecodeCertificate reads the stored form of a certificate. Like Restore, it does not check the dates: an expired
// certificate can still be listed, and Build and Check refuse it. Its errors never quote the data.
func DecodeCertificate(data []byte) (Certificate, error) {
	var s storedCertificate
	if err := json.Unmarshal(data, &s); err != nil {
		// json's syntax errors quote no input, but its type errors name a field: keep neither.
		return Certificate{}, fmt.Errorf("decode Apple certificate: the stored data is not a certificate's JSON")
	}
	c, err := Restore([]byte(s.Certificate), []byte(s.PrivateKey), []byte(s.WWDR))
	if err != nil {
		return Certificate{}, fmt.Errorf("decode Apple certificate: %w", err)
	}
	return c, nil
}
