package apple_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/domain/applepass"
)

const minimalPassJSON = `{"passTypeIdentifier": "pass.com.example.test", "generic": {}}`

type entry struct {
	name string
	body string
	mode fs.FileMode
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := z.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadTemplateZip_readsATemplate(t *testing.T) {
	for name, prefix := range map[string]string{"top level": "", "in one folder": "MyPass/"} {
		t.Run(name, func(t *testing.T) {
			var entries []entry
			if prefix != "" {
				entries = append(entries, entry{name: prefix, mode: fs.ModeDir | 0o755})
			}
			tpl, err := apple.ReadTemplateZip(makeZip(t, append(entries,
				entry{name: prefix + "pass.json", body: minimalPassJSON},
				entry{name: prefix + "icon.png", body: "icon"},
				entry{name: prefix + "fr.lproj/", mode: fs.ModeDir | 0o755},
				entry{name: prefix + "fr.lproj/pass.strings", body: `"a" = "b";`},
				entry{name: prefix + ".DS_Store", body: "junk"},
				entry{name: "__MACOSX/" + prefix + "._icon.png", body: "junk"},
			)...))
			if err != nil {
				t.Fatalf("ReadTemplateZip: %v", err)
			}
			if got := strings.Join(tpl.FileNames(), ","); got != "fr.lproj/pass.strings,icon.png" {
				t.Errorf("FileNames = %s", got)
			}
			if tpl.PassTypeIdentifier() != "pass.com.example.test" {
				t.Errorf("PassTypeIdentifier = %q", tpl.PassTypeIdentifier())
			}
		})
	}
}

func TestReadTemplateZip_refuses(t *testing.T) {
	valid := []entry{{name: "pass.json", body: minimalPassJSON}, {name: "icon.png", body: "icon"}}
	with := func(e ...entry) []byte { return makeZip(t, append(append([]entry{}, valid...), e...)...) }
	for _, tc := range []struct {
		name, want string
		zip        []byte
	}{
		{"not a zip", "template.zip: not a zip file", []byte("PK not really")},
		{"too large", "template.zip: larger than 10 MiB", make([]byte, apple.MaxTemplateSize+1)},
		{"traversal", "../evil.png: file name climbs out", with(entry{name: "../evil.png", body: "x"})},
		{"traversal inside", "fr.lproj/../../evil: file name climbs out", with(entry{name: "fr.lproj/../../evil", body: "x"})},
		{"absolute", "/etc/passwd: absolute", with(entry{name: "/etc/passwd", body: "x"})},
		{"windows", `C:\evil: absolute`, with(entry{name: `C:\evil`, body: "x"})},
		{"symlink", "link.png: symbolic links", with(entry{name: "link.png", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777})},
		{"duplicate", "icon.png: appears twice", with(entry{name: "icon.png", body: "again"})},
		{"other folder", "images/logo.png: only files at the top level", with(entry{name: "images/logo.png", body: "x"})},
		{"unpacks too large", "big.png: the template is larger than 10 MiB unpacked", with(entry{name: "big.png", body: strings.Repeat("0", apple.MaxTemplateSize+1)})},
		{"no icon", "icon.png: missing", makeZip(t, valid[0])},
		{"bad pass.json", "pass.json: passTypeIdentifier: missing", makeZip(t, entry{name: "pass.json", body: `{"generic": {}}`}, valid[1])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apple.ReadTemplateZip(tc.zip)
			if !errors.Is(err, applepass.ErrInvalidTemplate) {
				t.Fatalf("err = %v, want ErrInvalidTemplate", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadTemplateDir_readsAFolder(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"pass.json": minimalPassJSON, "icon.png": "icon", "logo@2x.png": "logo",
		"de.lproj/pass.strings": `"a" = "b";`, ".DS_Store": "junk",
	})
	if err := os.Symlink("icon.png", filepath.Join(dir, "icon@2x.png")); err != nil {
		t.Fatal(err)
	}
	tpl, err := apple.ReadTemplateDir(dir)
	if err != nil {
		t.Fatalf("ReadTemplateDir: %v", err)
	}
	if got := strings.Join(tpl.FileNames(), ","); got != "de.lproj/pass.strings,icon.png,icon@2x.png,logo@2x.png" {
		t.Errorf("FileNames = %s", got)
	}
	if b, _ := tpl.File("icon@2x.png"); string(b) != "icon" {
		t.Errorf("icon@2x.png (a link inside the folder) = %q", b)
	}
}

func TestReadTemplateDir_refuses(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.png")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		setup      func(dir string)
	}{
		{"link out of the folder", "logo.png: cannot be read from inside the template folder", func(dir string) {
			if err := os.Symlink(secret, filepath.Join(dir, "logo.png")); err != nil {
				t.Fatal(err)
			}
		}},
		{"other folder", "images/logo.png: only files at the top level", func(dir string) {
			writeTree(t, dir, map[string]string{"images/logo.png": "x"})
		}},
		{"no pass.json", "pass.json: missing", func(dir string) { os.Remove(filepath.Join(dir, "pass.json")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"pass.json": minimalPassJSON, "icon.png": "icon"})
			tc.setup(dir)
			_, err := apple.ReadTemplateDir(dir)
			if !errors.Is(err, applepass.ErrInvalidTemplate) {
				t.Fatalf("err = %v, want ErrInvalidTemplate", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := apple.ReadTemplateDir(filepath.Join(t.TempDir(), "nowhere")); err == nil {
		t.Error("ReadTemplateDir of a missing folder succeeded")
	}
}

func FuzzReadTemplateZip(f *testing.F) {
	f.Add(makeZip(f, entry{name: "pass.json", body: minimalPassJSON}, entry{name: "icon.png", body: "icon"}))
	f.Add(makeZip(f, entry{name: "x/pass.json", body: minimalPassJSON}, entry{name: "x/fr.lproj/", mode: fs.ModeDir | 0o755}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := apple.ReadTemplateZip(data)
		if err != nil {
			return
		}
		for _, name := range tpl.FileNames() {
			if strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || slices.Contains(strings.Split(name, "/"), "..") {
				t.Fatalf("accepted the file name %q", name)
			}
		}
	})
}
