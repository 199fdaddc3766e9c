package ftracktest

import (
	"fmt"
	"net/http"
	"testing"
)

// TestFaultFailEvery: every Nth request answers 503; without
// FailAfterApply the failed batch is not applied, with it the batch is
// applied and only the answer fails.
func TestFaultFailEvery(t *testing.T) {
	for _, afterApply := range []bool{false, true} {
		t.Run(fmt.Sprintf("after_apply=%v", afterApply), func(t *testing.T) {
			s := newTestServer(t)
			s.Emulator.SetFaults(Faults{FailEvery: 3, FailAfterApply: afterApply})
			for i := 1; i <= 6; i++ {
				body := fmt.Sprintf(`[{"action":"create","entity_type":"Group","entity_data":{"name":"g%d","local":false}}]`, i)
				status, _, out := post(t, s, body, nil)
				if want := http.StatusOK; i%3 == 0 {
					if m, ok := out.(map[string]any); status != http.StatusServiceUnavailable || !ok || m["exception"] != "ServiceUnavailable" {
						t.Errorf("request %d: %d %v, want the injected 503", i, status, out)
					}
				} else if status != want {
					t.Errorf("request %d: status %d", i, status)
				}
			}
			groups := s.Emulator.Entities("Group")
			if want := map[bool]int{false: 4, true: 6}[afterApply]; len(groups) != want {
				t.Errorf("%d groups stored, want %d", len(groups), want)
			}
			if st := s.Emulator.Stats(); st.Unavailable != 2 {
				t.Errorf("Unavailable = %d, want 2", st.Unavailable)
			}
		})
	}
}
