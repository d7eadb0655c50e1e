package logpull

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const stateVersion = 1

// State is a pull's position, kept in the state file.
type State struct {
	Version   int    `json:"version"`
	URL       string `json:"url"`
	Org       string `json:"org,omitempty"`
	Anonymize bool   `json:"anonymize"`
	// Position is the end of everything fetched: the next range starts here.
	Position time.Time `json:"position"`
	// Range is the range under way, nil between ranges.
	Range *Range `json:"range,omitempty"`
}

// Range is one request range (at most one UTC day) and how far it got.
type Range struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Cursor is the next page's cursor, "" for the first page.
	Cursor string `json:"cursor,omitempty"`
	// File is the day's file and Size its length once every page before
	// Cursor was written and synced.
	File string `json:"file"`
	Size int64  `json:"size"`
}

func (s *State) matches(cfg Config) error {
	if s.URL != cfg.URL || s.Org != cfg.Org || s.Anonymize != cfg.Anonymize {
		return fmt.Errorf("%w: it was made for --url %s, --org %q, --anonymize=%v; use another --state or the same flags",
			ErrStateMismatch, s.URL, s.Org, s.Anonymize)
	}
	return nil
}

// loadState reads the state file; nil, nil when there is none yet.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil || s.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: not a state file of this version", path)
	}
	return &s, nil
}

// saveState replaces the state file atomically and durably: a temporary
// file, synced, renamed over it, and the folder synced.
func saveState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// lockState takes an exclusive lock beside the state file, so that two pulls
// (an overlapping cron run) never write the same files.
func lockState(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pull with state file %s is running", path)
		}
		return nil, fmt.Errorf("state file lock: %w", err)
	}
	return func() { f.Close() }, nil
}
