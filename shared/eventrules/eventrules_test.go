package eventrules

import "testing"

func TestUserDeactivatedPattern(t *testing.T) {
	want := `{"source":["dormancy.users"],"detail-type":["UserDeactivated"]}`
	if got := UserDeactivated.JSON(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
