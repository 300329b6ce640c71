package runtime

import "testing"

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"500m", 500, false},
		{"1", 1000, false},
		{"1.5", 1500, false},
		{" 2 ", 2000, false},
		{"0", 0, true},
		{"-1", 0, true},
		{"0m", 0, true},
		{"abc", 0, true},
		{"1.5m", 0, true},
		{"0.0001", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCPU(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"1048576", 1 << 20, false},
		{"512Mi", 512 << 20, false},
		{"2Gi", 2 << 30, false},
		{"1G", 1e9, false},
		{"64Ki", 64 << 10, false},
		{"1.5Gi", 3 << 29, false},
		{"0", 0, true},
		{"-1Gi", 0, true},
		{"Gi", 0, true},
		{"2GB", 0, true},
		{"1e30Ti", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
