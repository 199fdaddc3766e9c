package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// failingTarget fails to read its accounts.
type failingTarget struct{ *fakeTarget }

func (failingTarget) ReadAccounts(context.Context) ([]Account, error) {
	return nil, errors.New("InvalidCredentialsError: the API key is not valid")
}

// blockingSource answers only when its context is cancelled: a directory
// that would take long to read.
type blockingSource struct{}

func (blockingSource) Info() SourceInfo { return SourceInfo{Type: "ldap", Name: "corp"} }
func (blockingSource) Read(ctx context.Context, _ []string, _ func(Entry) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestTargetFailureStopsTheSourceRead: a failed ftrack read cancels the
// directory read and is the error reported, not the cancellation.
func TestTargetFailureStopsTheSourceRead(t *testing.T) {
	// The deadline only keeps a regression from hanging the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := BuildPlan(ctx, planReq([]Source{blockingSource{}}, &fakeMapper{name: "users"}, failingTarget{newTarget()}, DefaultPolicy()))
	if err == nil || !strings.Contains(err.Error(), `target "studio": InvalidCredentialsError`) {
		t.Fatalf("err = %v, want the target's error", err)
	}
}
