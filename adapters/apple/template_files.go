package apple

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/passpush/passpush/domain/applepass"
)

// MaxTemplateSize bounds a template: the zip as uploaded, and the sum of its files once unpacked.
const MaxTemplateSize = 10 << 20

// ReadTemplateZip reads a template from a zip of its files. The files may sit at the zip's top level or in one
// folder (what Finder's "Compress" makes). It refuses a zip or an unpacked content over MaxTemplateSize, entry
// names that are absolute or climb out with "..", symbolic links and duplicate names; it skips folder entries and
// the __MACOSX/ and .DS_Store litter of macOS. Every refusal wraps applepass.ErrInvalidTemplate, and
// applepass.ParseTemplate then checks the files themselves.
func ReadTemplateZip(data []byte) (applepass.Template, error) {
	if len(data) > MaxTemplateSize {
		return applepass.Template{}, fault("template.zip", "larger than %d MiB", MaxTemplateSize>>20)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return applepass.Template{}, fault("template.zip", "not a zip file: %v", err)
	}
	files := make(map[string][]byte, len(zr.File))
	total := int64(0)
	for _, f := range zr.File {
		name := f.Name
		switch {
		case name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || (len(name) > 1 && name[1] == ':'):
			return applepass.Template{}, fault(name, "absolute or non-portable file name in the zip")
		case hasDotDot(name):
			return applepass.Template{}, fault(name, "file name climbs out of the template")
		case f.Mode()&fs.ModeSymlink != 0:
			return applepass.Template{}, fault(name, "symbolic links are not allowed in a template")
		case f.FileInfo().IsDir():
			continue
		case isLitter(name):
			continue
		}
		if _, dup := files[name]; dup {
			return applepass.Template{}, fault(name, "appears twice in the zip")
		}
		b, err := readBounded(f, MaxTemplateSize-total)
		if err != nil {
			return applepass.Template{}, fault(name, "%v", err)
		}
		total += int64(len(b))
		files[name] = b
	}
	return applepass.ParseTemplate(unwrapFolder(files))
}

// ReadTemplateDir reads a template from a folder: pass.json, its images and its *.lproj/ folders. It reads
// through os.Root, so that no symbolic link leads out of dir, and refuses more than MaxTemplateSize in all.
func ReadTemplateDir(dir string) (applepass.Template, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return applepass.Template{}, fmt.Errorf("read template folder: %w", err)
	}
	defer root.Close()
	files := map[string][]byte{}
	total := int64(0)
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || isLitter(name) {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return fault(name, "not a regular file")
		}
		f, err := root.Open(name) // follows a symbolic link only while it stays inside dir
		if err != nil {
			return fault(name, "cannot be read from inside the template folder: %v", err)
		}
		defer f.Close()
		if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
			return fault(name, "not a regular file")
		}
		b, err := readAtMost(f, MaxTemplateSize-total)
		if err != nil {
			return fault(name, "%v", err)
		}
		total += int64(len(b))
		files[name] = b
		return nil
	})
	if err != nil {
		if errors.Is(err, applepass.ErrInvalidTemplate) {
			return applepass.Template{}, err
		}
		return applepass.Template{}, fmt.Errorf("read template folder: %w", err)
	}
	return applepass.ParseTemplate(files)
}

func fault(file, format string, args ...any) error {
	return applepass.TemplateFault{File: file, Problem: fmt.Sprintf(format, args...)}
}

func hasDotDot(name string) bool {
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// isLitter names the files that archivers and Finder add beside a template.
func isLitter(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(name, "__MACOSX/") || base == ".DS_Store" || base == "Thumbs.db" || strings.HasPrefix(base, "._")
}

// unwrapFolder moves the files of a zip made from a folder ("MyPass/pass.json") to the top level.
func unwrapFolder(files map[string][]byte) map[string][]byte {
	if _, ok := files["pass.json"]; ok {
		return files
	}
	prefix := ""
	for name := range files {
		dir, _, ok := strings.Cut(name, "/")
		if !ok || strings.HasSuffix(dir, ".lproj") || (prefix != "" && dir != prefix) {
			return files
		}
		prefix = dir
	}
	if _, ok := files[prefix+"/pass.json"]; !ok {
		return files
	}
	out := make(map[string][]byte, len(files))
	for name, b := range files {
		out[strings.TrimPrefix(name, prefix+"/")] = b
	}
	return out
}

func readBounded(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("the template is larger than %d MiB unpacked", MaxTemplateSize>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("cannot be unpacked: %v", err)
	}
	defer rc.Close()
	return readAtMost(rc, limit)
}

// readAtMost reads r whole, and refuses it past limit bytes, whatever its header claims.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the template is larger than %d MiB unpacked", MaxTemplateSize>>20)
	}
	return b, nil
}
