package runtime

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseCPU parses a CPU amount in Kubernetes notation ("500m", "1", "1.5")
// into millicores. An empty string is 0, meaning no limit.
func ParseCPU(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if m, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("cpu %q: want millicores like \"500m\" or cores like \"1.5\"", s)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e6 {
		return 0, fmt.Errorf("cpu %q: want millicores like \"500m\" or cores like \"1.5\"", s)
	}
	milli := int64(math.Round(f * 1000))
	if milli == 0 {
		return 0, fmt.Errorf("cpu %q: less than 1m", s)
	}
	return milli, nil
}

var memoryUnits = []struct {
	suffix string
	factor float64
}{
	// Two-letter suffixes first, so "Mi" is not read as "M" plus junk.
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseMemory parses a memory amount in Kubernetes notation ("512Mi",
// "2Gi", "1G", "1048576") into bytes. An empty string is 0, meaning no
// limit.
func ParseMemory(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num, factor := s, 1.0
	for _, u := range memoryUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*factor > math.MaxInt64/2 {
		return 0, fmt.Errorf("memory %q: want bytes or a size like \"512Mi\" or \"2Gi\"", s)
	}
	return int64(f * factor), nil
}
