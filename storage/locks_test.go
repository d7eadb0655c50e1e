package storage_test

import (
	"context"
	"testing"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// TestLocksDistinct keeps every one-key advisory lock apart, including the
// two the migrations' functions take by hashtext() of their names.
func TestLocksDistinct(t *testing.T) {
	s := storagetest.New(t)
	seen := map[int64]string{}
	add := func(key int64, name string) {
		if prev, ok := seen[key]; ok {
			t.Errorf("advisory lock %d is taken by both %s and %s", key, prev, name)
		}
		seen[key] = name
	}
	for _, l := range storage.Locks {
		add(int64(l), "storage.Locks")
	}
	for _, fn := range []string{"audit_events_ensure_partition", "audit_events_expire"} {
		var key int64
		if err := s.DB().Get(&key, `SELECT hashtext($1)::bigint`, fn); err != nil {
			t.Fatal(err)
		}
		add(key, fn)
	}
}

// TestBucketSyncDoesNotBlockCheckpointJob: a process syncing the bucket holds
// its lock for the whole sync; the periodic checkpoint job of another process
// must still get its own.
func TestBucketSyncDoesNotBlockCheckpointJob(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t)
	unlock, ok, err := s.TryLock(ctx, storage.LockBucketSync)
	if err != nil || !ok {
		t.Fatalf("TryLock(LockBucketSync) = %v, %v; want true, nil", ok, err)
	}
	defer unlock()
	err = s.InTx(ctx, func(tx *storage.Tx) error {
		ok, err := tx.TryLockCheckpointJob(ctx)
		if err != nil {
			return err
		}
		if !ok {
			t.Error("TryLockCheckpointJob = false while only the bucket sync's lock is held")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
