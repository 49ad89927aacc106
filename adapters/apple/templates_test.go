package apple_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
)

func TestTemplates_storesVersionsAndReadsTheLatest(t *testing.T) {
	ctx := context.Background()
	db := sqldbtest.New(t)
	templates, err := apple.NewTemplates(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := templates.Latest(ctx, "acme", "loyalty"); !errors.Is(err, query.ErrAppleNotConfigured) {
		t.Fatalf("Latest without a template: %v, want ErrAppleNotConfigured", err)
	}
	tpl := testTemplate(t)
	for want := 1; want <= 2; want++ {
		if v, err := templates.Add(ctx, "acme", "loyalty", tpl); err != nil || v != want {
			t.Fatalf("Add #%d = %d, %v", want, v, err)
		}
	}
	if v, err := templates.Add(ctx, "globex", "loyalty", tpl); err != nil || v != 1 {
		t.Fatalf("another tenant's first version = %d, %v", v, err)
	}

	// Another instance reads the stored zip back.
	fresh, _ := apple.NewTemplates(db)
	latest, err := fresh.Latest(ctx, "acme", "loyalty")
	if err != nil || latest.Version != 2 || latest.CreatedAt.IsZero() {
		t.Fatalf("Latest = %+v, %v", latest, err)
	}
	if latest.Template.PassTypeIdentifier() != tpl.PassTypeIdentifier() || len(latest.Template.FileNames()) != len(tpl.FileNames()) {
		t.Errorf("Latest's template has %v, want %v", latest.Template.FileNames(), tpl.FileNames())
	}
}

// TestTemplates_keepTheTemplatesOfManyPassTypesInUse: every pass built asks for its type's template, so a
// service with many pass types in use must keep them all parsed. The cache used to forget every template once it
// held 64, and then read and unzipped them from the database again and again. Here the rows are gone after the
// puts: each version must still come from memory.
func TestTemplates_keepTheTemplatesOfManyPassTypesInUse(t *testing.T) {
	ctx := context.Background()
	db := sqldbtest.New(t)
	templates, err := apple.NewTemplates(db)
	if err != nil {
		t.Fatal(err)
	}
	// A template of a few bytes: zipping testTemplate's 105 KB of images a hundred times took 5 s under -race.
	tpl, err := applepass.ParseTemplate(map[string][]byte{"pass.json": []byte(testPassJSON), "icon.png": []byte("png")})
	if err != nil {
		t.Fatal(err)
	}
	const passTypes = 100 // more than the 64 the cache used to hold
	for i := range passTypes {
		if _, err := templates.Add(ctx, "acme", fmt.Sprintf("type-%03d", i), tpl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM apple_templates`); err != nil {
		t.Fatal(err)
	}
	for i := range passTypes {
		if _, err := templates.Version(ctx, "acme", fmt.Sprintf("type-%03d", i), 1); err != nil {
			t.Fatalf("template of type-%03d, once its row is gone: %v; it was not kept", i, err)
		}
	}
}

func TestTemplates_concurrentPutsGetDistinctVersions(t *testing.T) {
	ctx := context.Background()
	db := sqldbtest.New(t)
	tpl := testTemplate(t)
	var wg sync.WaitGroup
	versions := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			templates, _ := apple.NewTemplates(db)
			v, err := templates.Add(ctx, "acme", "loyalty", tpl)
			if err != nil {
				t.Error(err)
				return
			}
			versions <- v
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[int]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("version %d made twice", v)
		}
		seen[v] = true
	}
	reader, _ := apple.NewTemplates(db)
	if latest, err := reader.Latest(ctx, "acme", "loyalty"); err != nil || latest.Version != len(seen) {
		t.Errorf("Latest = %d, %v after %d puts", latest.Version, err, len(seen))
	}
}

// The README's example template is one that template put accepts.
func TestExampleTemplate_isAValidTemplate(t *testing.T) {
	tpl, err := apple.ReadTemplateDir("../../examples/apple-template")
	if err != nil {
		t.Fatalf("examples/apple-template: %v", err)
	}
	if tpl.Style() != "storeCard" || tpl.PassTypeIdentifier() != "pass.com.example.loyalty" {
		t.Errorf("style %s, passTypeIdentifier %s", tpl.Style(), tpl.PassTypeIdentifier())
	}
}
