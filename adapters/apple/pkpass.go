package apple

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/passpush/passpush/domain/applepass"
)

// ContentType is the media type of a .pkpass.
const ContentType = "application/vnd.apple.pkpass"

// Build packs and signs a pass: a zip of pass.json (passJSON, from applepass.Render), every other file of the
// template, manifest.json (the SHA-1 hex of each of those files) and signature, a detached PKCS#7 signature of
// manifest.json made with the certificate's key, carrying the certificate and the WWDR intermediate, a SHA-256
// digest and a signing-time attribute.
//
// signingTime (time.Now() when zero) is when the certificate must be valid, and the zip entries' time. The
// signing-time attribute itself is stamped by github.com/smallstep/pkcs7 from the clock, which it does not let a
// caller set, and which differs from signingTime only by how long the call takes.
func Build(t applepass.Template, passJSON []byte, cert Certificate, signingTime time.Time) ([]byte, error) {
	if signingTime.IsZero() {
		signingTime = time.Now()
	}
	if _, err := cert.Check(signingTime); err != nil {
		return nil, err
	}
	if len(passJSON) == 0 {
		return nil, fmt.Errorf("build pass: empty pass.json")
	}

	names := t.FileNames()
	manifest := make(map[string]string, len(names)+1)
	manifest["pass.json"] = sha1Hex(passJSON)
	for _, name := range names {
		manifest[name], _ = t.FileSHA1(name)
	}
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return nil, fmt.Errorf("build pass: manifest: %w", err)
	}
	signature, err := sign(manifestJSON, cert)
	if err != nil {
		return nil, fmt.Errorf("build pass %s: sign the manifest: %w", cert.PassTypeID, err)
	}

	var out bytes.Buffer
	out.Grow(estimateSize(t, names, passJSON, manifestJSON, signature))
	z := zip.NewWriter(&out)
	z.RegisterCompressor(zip.Deflate, newDeflater)
	add := func(name string, b []byte) error {
		method := zip.Store
		if worthDeflating(name, b) {
			method = zip.Deflate
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: signingTime})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := add("pass.json", passJSON); err != nil {
		return nil, fmt.Errorf("build pass: zip: %w", err)
	}
	for _, name := range names {
		b, _ := t.File(name)
		if err := add(name, b); err != nil {
			return nil, fmt.Errorf("build pass: zip: %w", err)
		}
	}
	if err := add("manifest.json", manifestJSON); err != nil {
		return nil, fmt.Errorf("build pass: zip: %w", err)
	}
	if err := add("signature", signature); err != nil {
		return nil, fmt.Errorf("build pass: zip: %w", err)
	}
	if err := z.Close(); err != nil {
		return nil, fmt.Errorf("build pass: zip: %w", err)
	}
	return out.Bytes(), nil
}

func sign(manifest []byte, cert Certificate) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(manifest)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	// AddSignerChain adds the content-type, message-digest and signing-time attributes. Given the WWDR as a
	// parent, it checks the leaf's signature with it on every call: an RSA verification per pass, which loading
	// the certificate did once already (parseWWDR). Without parents it names the leaf's own issuer in the
	// signer info, the same bytes, and the WWDR is added to the certificates as AddSignerChain would.
	if err := sd.AddSignerChain(cert.Leaf, cert.key, nil, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	sd.AddCertificate(cert.WWDR)
	sd.Detach()
	return sd.Finish()
}

// Deflating at BestSpeed, with writers taken from a pool, keeps the zip's cost well below the signature's.
var deflaters sync.Pool

type pooledDeflater struct{ *flate.Writer }

func (d pooledDeflater) Close() error {
	err := d.Writer.Close()
	deflaters.Put(d.Writer)
	return err
}

func newDeflater(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return pooledDeflater{fw}, nil
	}
	fw, err := flate.NewWriter(w, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return pooledDeflater{fw}, nil
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// worthDeflating: images are compressed already, and deflating a few small text files costs more time than
// their bytes cost on the wire. Larger text files (long pass.strings) are deflated.
func worthDeflating(name string, b []byte) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".heic", ".webp", ".zip":
		return false
	}
	return len(b) > 8<<10
}

func estimateSize(t applepass.Template, names []string, parts ...[]byte) int {
	n := 1024
	for _, p := range parts {
		n += len(p) + 128
	}
	for _, name := range names {
		b, _ := t.File(name)
		n += len(b) + 128
	}
	return n
}
