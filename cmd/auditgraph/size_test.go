package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		str  string
	}{
		{"512MiB", 512 << 20, "512MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{" 2 GiB", 2 << 30, "2GiB"},
		{"300MB", 300e6, "300MB"},
		{"64KiB", 64 << 10, "64KiB"},
		{"4096", 4096, "4KiB"},
		{"1000B", 1000, "1KB"},
		{"7", 7, "7B"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var s byteSize
			if err := s.Set(tc.in); err != nil || int64(s) != tc.want || s.String() != tc.str {
				t.Errorf("Set(%q) = %v, %d (%s); want %d (%s)", tc.in, err, s, s.String(), tc.want, tc.str)
			}
		})
	}
	for _, in := range []string{"", "lots", "-1MiB", "0", "1.5GiB", "1TiB", "99999999999GiB"} {
		t.Run("refuses "+in, func(t *testing.T) {
			var s byteSize
			if err := s.Set(in); err == nil {
				t.Errorf("Set(%q) = %d, want an error", in, s)
			}
		})
	}
}

func TestServeIngestMemoryFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"flag", []string{"serve", "--ingest-memory", "lots", "--database-url", unreachableDB}, "", "ingest-memory"},
		{"environment", []string{"serve", "--database-url", unreachableDB}, "half", "AUDITGRAPH_INGEST_MEMORY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AUDITGRAPH_INGEST_MEMORY", tc.env)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want 2 naming %s", tc.args, code, stderr.String(), tc.want)
			}
		})
	}
}
