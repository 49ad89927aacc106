package google

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/push"
)

// installState reads the pass's stored Google install state.
func installState(t *testing.T, ch *Channel) (installed, known bool) {
	t.Helper()
	states, err := ch.InstallStates(context.Background(), testTenant, []string{testPass})
	if err != nil {
		t.Fatal(err)
	}
	s, known := states[testPass]
	return s.Installed, known
}

// Issue 15: the split reads the install state the channel's answers left: a patch's 404 (never saved), then
// the object Google returns, whose hasUsers says whether someone holds it.
func TestChannel_patchAnswersAreKeptAsTheInstallState(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	if _, known := installState(t, f.channel); known {
		t.Fatal("a state before any answer")
	}
	deliver(t, f.channel, update("e1", ""), 1)
	if installed, known := installState(t, f.channel); !known || installed {
		t.Errorf("after a 404: installed %v known %v, want a known not installed", installed, known)
	}
	f.fake.PutObject("generic", testObject, map[string]any{"hasUsers": true})
	deliver(t, f.channel, update("e2", ""), 1)
	if installed, _ := installState(t, f.channel); !installed {
		t.Error("after a patch answered with hasUsers: not installed")
	}
	f.fake.PutObject("generic", testObject, map[string]any{"hasUsers": false})
	deliver(t, f.channel, update("e3", ""), 1)
	if installed, _ := installState(t, f.channel); installed {
		t.Error("after a patch answered without users: installed")
	}
}

// A refresh is a GET of the object, stored; a tenant without Google settings is push.ErrNotSetUp.
func TestChannel_refreshInstallStateGetsTheObject(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	ctx := context.Background()
	if installed, err := f.channel.RefreshInstallState(ctx, testTenant, testPass); err != nil || installed {
		t.Fatalf("refresh of an object that does not exist: %v %v, want not installed", installed, err)
	}
	f.fake.PutObject("generic", testObject, map[string]any{"hasUsers": true})
	if installed, err := f.channel.RefreshInstallState(ctx, testTenant, testPass); err != nil || !installed {
		t.Fatalf("refresh of a saved object: %v %v, want installed", installed, err)
	}
	if installed, known := installState(t, f.channel); !known || !installed {
		t.Errorf("stored state: installed %v known %v", installed, known)
	}
	if gets := f.fake.Requests(googletest.CallGet); len(gets) != 2 || gets[0].ObjectID != testObject {
		t.Errorf("GETs %v, want two of %s", gets, testObject)
	}
	if _, err := f.channel.RefreshInstallState(ctx, "t-without-google", testPass); !errors.Is(err, push.ErrNotSetUp) {
		t.Errorf("refresh for a tenant without Google settings: %v, want push.ErrNotSetUp", err)
	}
}

// A refresh takes a turn under the tenant's rate only when one comes soon, and holds none when it does not: the
// split uses the last state instead, and the pushes keep the turns.
func TestLimiter_tryTakeHoldsNoTurn(t *testing.T) {
	l := newLimiter(1, newCallers(sqldbtest.New(t)))
	ctx := contracttest.Context(t)
	for i := range MaxBurst {
		if !l.TryTake(ctx, 0) {
			t.Fatalf("burst call %d refused", i)
		}
	}
	if l.TryTake(ctx, 0) {
		t.Fatal("a call past the burst, at 1/s, took a turn at once")
	}
	// The refused call reserved nothing: the next push's turn is the first after the burst, about a second.
	after, err := l.Take(ctx, "push", 1, 0)
	if err != nil || after > 1100*time.Millisecond {
		t.Errorf("the next push waits %s (%v), want its turn within a second", after, err)
	}
}
