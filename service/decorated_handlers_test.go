package service_test

import (
	"reflect"
	"strings"
	"testing"
)

// Every command and query handler is wrapped in the logging and metrics of app's decorators where the application
// is built: a handler added to app.Application but not to the decoration would go unlogged and uncounted.
func TestApplication_everyHandlerIsDecorated(t *testing.T) {
	svc := newService(t)
	for _, group := range []reflect.Value{reflect.ValueOf(svc.App.Commands), reflect.ValueOf(svc.App.Queries)} {
		for i := range group.NumField() {
			name := group.Type().Field(i).Name
			field := group.Field(i)
			if field.Kind() != reflect.Interface || field.IsNil() {
				t.Errorf("%s.%s is %s, want a decorator interface holding a wrapped handler", group.Type().Name(), name, field.Type())
				continue
			}
			pkg := field.Elem().Type().PkgPath()
			if !strings.HasSuffix(pkg, "/passpush/app") && !strings.HasSuffix(pkg, "/adapters/metrics") {
				t.Errorf("%s.%s holds %s, not wrapped by app's decorators", group.Type().Name(), name, field.Elem().Type())
			}
		}
	}
}
