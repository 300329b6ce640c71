package kubernetes

import (
	"testing"
	"time"
)

func TestPodStats(t *testing.T) {
	raw := []byte(`{"containers":[{"name":"agent","usage":{"cpu":"250000000n","memory":"20Mi"}}]}`)
	st, err := podStats(raw, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUPercent != 25 || st.MemoryBytes != 20<<20 || st.Uptime < time.Minute {
		t.Errorf("stats %+v; want 25%% cpu, 20Mi, uptime >= 1m", st)
	}
}
