package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/internal/entity"
)

// Reads on a streaming standby (serve --read-database-url).
//
// A store may have a second pool, on a hot standby of its database (or a
// pooler in session mode in front of several). A read goes there only when
// its context was marked with entity.ReadStandby (the services mark the
// reads that may see the log a moment behind, after checking the caller's
// rights on the primary) and the standby is usable: it answered the last
// check and lags no more than its MaxLag. Everything else (writes,
// transactions, sign-in and authentication, reads the services leave
// unmarked) reads the primary, as without a standby.
//
// The routing is in one place: Store's statements run through routed (get
// and sel in sqlx.go, QueryContext and friends here), and the few reads
// that open a transaction or a cursor of their own (EventsPage,
// StreamEvents, InSnapshot) ask standbyAt or standbyConn. A read the
// standby fails is run again on the primary; when the failure says the
// standby is gone (Unavailable), it is bypassed until the next check finds
// it back.

// StandbyConfig configures the standby pool.
type StandbyConfig struct {
	URL string
	// MaxLag is the replication lag past which reads bypass the standby;
	// 0 means DefaultMaxLag.
	MaxLag time.Duration
	// Wait is how long a read that must see the primary's last event of an
	// organization waits for the standby to replay it before it reads the
	// primary instead; 0 means DefaultStandbyWait.
	Wait time.Duration
	// CheckEvery is the interval of WatchStandby's checks; 0 means 1s.
	CheckEvery time.Duration
	// OnChange, when set, is called (by WatchStandby or a failed read) when
	// reads start or stop going to the standby, with its new state.
	OnChange func(StandbyStatus)
}

// DefaultMaxLag is --max-replica-lag's default.
const DefaultMaxLag = 30 * time.Second

// DefaultStandbyWait is how long a pinned read waits for replay by default.
const DefaultStandbyWait = 250 * time.Millisecond

// StandbyStatus is what the last check of the standby found.
type StandbyStatus struct {
	// Configured is false when the store has no standby.
	Configured bool
	// Used says that marked reads go to the standby now.
	Used bool
	// Lag is the replication lag at the last check (0 for a server that is
	// not in recovery, or has replayed everything it received).
	Lag time.Duration
	// LagKnown is false until a check succeeded.
	LagKnown bool
	// Reason says why the standby is bypassed, when it is, without the
	// error's details (it is shown to anyone on /readyz); Err has them.
	Reason string
	Err    error
}

type standby struct {
	db         *sqlx.DB
	maxLag     time.Duration
	wait       time.Duration
	checkEvery time.Duration
	onChange   func(StandbyStatus)

	mu          sync.Mutex
	checked     bool
	up          bool
	lag         time.Duration
	err         error // why it is not up
	used        bool  // what onChange was last told
	noWaitUntil time.Time
}

// AttachStandby gives the store a second pool, on the standby at cfg.URL.
// It fails only on a malformed URL: a standby that does not answer yet is
// bypassed (see Standby) until WatchStandby finds it answering. Call it
// before the store is used.
func (s *Store) AttachStandby(ctx context.Context, cfg StandbyConfig) error {
	db, err := openPool("postgres", cfg.URL)
	if err != nil {
		return fmt.Errorf("storage: read database: %w", err)
	}
	sb := &standby{db: db, maxLag: cfg.MaxLag, wait: cfg.Wait, checkEvery: cfg.CheckEvery, onChange: cfg.OnChange}
	if sb.maxLag <= 0 {
		sb.maxLag = DefaultMaxLag
	}
	if sb.wait <= 0 {
		sb.wait = DefaultStandbyWait
	}
	if sb.checkEvery <= 0 {
		sb.checkEvery = time.Second
	}
	s.sb = sb
	s.queries = queries{q: &routed{primary: s.db, sb: sb}, stmts: s.stmts}
	sb.check(ctx)
	return nil
}

// Standby returns what the last check of the standby found.
func (s *Store) Standby() StandbyStatus {
	if s.sb == nil {
		return StandbyStatus{}
	}
	s.sb.mu.Lock()
	defer s.sb.mu.Unlock()
	return s.sb.statusLocked()
}

func (sb *standby) statusLocked() StandbyStatus {
	st := StandbyStatus{Configured: true, Lag: sb.lag, LagKnown: sb.checked, Err: sb.err}
	st.Used, st.Reason = sb.usableLocked()
	return st
}

// changedLocked tells onChange when the standby's use changed; it returns
// the call to make once the lock is released.
func (sb *standby) changedLocked() func() {
	st := sb.statusLocked()
	if st.Used == sb.used || sb.onChange == nil {
		sb.used = st.Used
		return func() {}
	}
	sb.used = st.Used
	return func() { sb.onChange(st) }
}

// WatchStandby checks the standby every second (StandbyConfig.CheckEvery)
// until ctx ends: whether it answers, and how far behind it is. It does
// nothing without a standby. It is a job of serve.
func (s *Store) WatchStandby(ctx context.Context) error {
	if s.sb == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.sb.checkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.sb.check(ctx)
		}
	}
}

// closeStandby closes the standby's pool, if any.
func (s *Store) closeStandby() {
	if s.sb != nil {
		s.sb.db.Close()
	}
}

// lagQuery measures how far the server is behind its primary: 0 when it is
// not a standby or has replayed all the WAL it received while receiving;
// else the age of the last transaction it replayed. A standby whose WAL
// receiver is not running (cut off from the primary) cannot know what it
// misses, so it counts as behind by that age too. (pg_stat_wal_receiver
// shows a role without pg_read_all_stats only the receiver's pid, enough
// to tell that it runs.)
const lagQuery = `SELECT CASE
	WHEN NOT pg_is_in_recovery() THEN 0
	WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
		AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
	ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
	END::float8`

func (sb *standby) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lag float64
	err := sb.db.GetContext(ctx, &lag, lagQuery)
	sb.mu.Lock()
	if err != nil && errors.Is(err, context.Canceled) {
		sb.mu.Unlock()
		return // stopping
	}
	if err != nil {
		sb.up, sb.err = false, err
	} else {
		sb.checked, sb.up, sb.err = true, true, nil
		sb.lag = time.Duration(max(lag, 0) * float64(time.Second))
	}
	notify := sb.changedLocked()
	sb.mu.Unlock()
	notify()
}

// usableLocked says whether marked reads may go to the standby, and if not
// why.
func (sb *standby) usableLocked() (bool, string) {
	switch {
	case !sb.up && sb.err != nil:
		return false, "unreachable"
	case !sb.checked:
		return false, "not checked yet"
	case sb.lag > sb.maxLag:
		return false, fmt.Sprintf("lagging %s behind the primary (--max-replica-lag %s)", sb.lag.Round(time.Millisecond), sb.maxLag)
	}
	return true, ""
}

func (sb *standby) usable() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	ok, _ := sb.usableLocked()
	return ok
}

// failed notes a read the standby failed: one that says it is gone makes
// reads bypass it until the next check.
func (sb *standby) failed(err error) {
	if !Unavailable(err) {
		return
	}
	sb.mu.Lock()
	sb.up, sb.err = false, err
	notify := sb.changedLocked()
	sb.mu.Unlock()
	notify()
}

// waitNow is how long a pinned read may wait for replay now: none for a
// second after a read waited in vain, so that a walk over a stalled standby
// does not wait on every page.
func (sb *standby) waitNow() time.Duration {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if time.Now().Before(sb.noWaitUntil) {
		return 0
	}
	return sb.wait
}

func (sb *standby) waitedInVain() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.noWaitUntil = time.Now().Add(time.Second)
}

// wantStandby reports whether a read with ctx should try the standby.
func (s *Store) wantStandby(ctx context.Context) bool {
	return s.sb != nil && entity.StandbyAllowed(ctx) && s.sb.usable()
}

// standbyConn returns a connection to the standby for a read with ctx, or
// nil when the read should go to the primary.
func (s *Store) standbyConn(ctx context.Context) *sqlx.Conn {
	if !s.wantStandby(ctx) {
		return nil
	}
	conn, err := s.sb.db.Connx(ctx)
	if err != nil {
		s.sb.failed(err)
		return nil
	}
	return conn
}

// standbyAt is standbyConn for a read that must see the organization's log
// up to sequence number seq (the primary's, read when the read began): it
// returns a connection on which the standby has replayed that far, waiting
// up to StandbyConfig.Wait, else nil. Replay only moves forward, so what
// the connection reads next sees at least that much.
func (s *Store) standbyAt(ctx context.Context, orgID, seq int64) *sqlx.Conn {
	conn := s.standbyConn(ctx)
	if conn == nil {
		return nil
	}
	deadline := time.Now().Add(s.sb.waitNow())
	for {
		var have int64
		err := conn.GetContext(ctx, &have, `SELECT last_seq FROM organizations WHERE id = $1`, orgID)
		switch {
		case err == nil && have >= seq:
			return conn
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			s.sb.failed(err)
			conn.Close()
			return nil
		}
		if !time.Now().Before(deadline) {
			s.sb.waitedInVain()
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			conn.Close()
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// primarySeq returns the organization's last sequence number on the
// primary.
func (s *Store) primarySeq(ctx context.Context, orgID int64) (int64, error) {
	var seq int64
	err := sqlx.GetContext(ctx, s.db, &seq, `SELECT last_seq FROM organizations WHERE id = $1`, orgID)
	return seq, err
}

// routed sends a Store's reads marked with entity.ReadStandby to the standby
// while it is usable, and everything else to the primary.
type routed struct {
	primary *sqlx.DB
	sb      *standby
}

var _ sqlx.ExtContext = (*routed)(nil)

func (r *routed) DriverName() string         { return r.primary.DriverName() }
func (r *routed) Rebind(query string) string { return r.primary.Rebind(query) }
func (r *routed) BindNamed(query string, arg any) (string, []any, error) {
	return r.primary.BindNamed(query, arg)
}

func (r *routed) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.primary.ExecContext(ctx, query, args...)
}

func (r *routed) standby(ctx context.Context) bool {
	return entity.StandbyAllowed(ctx) && r.sb.usable()
}

// retry reports whether a read the standby failed with err should run again
// on the primary: unless the caller gave up.
func (r *routed) retry(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, sql.ErrNoRows) {
		return false
	}
	r.sb.failed(err)
	return true
}

func (r *routed) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if r.standby(ctx) {
		rows, err := r.sb.db.QueryContext(ctx, query, args...)
		if !r.retry(ctx, err) {
			return rows, err
		}
	}
	return r.primary.QueryContext(ctx, query, args...)
}

func (r *routed) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if r.standby(ctx) {
		rows, err := r.sb.db.QueryxContext(ctx, query, args...)
		if !r.retry(ctx, err) {
			return rows, err
		}
	}
	return r.primary.QueryxContext(ctx, query, args...)
}

// QueryRowxContext cannot run a failed read again (the row holds its
// error); get, which Store's single-row reads use, does.
func (r *routed) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if r.standby(ctx) {
		return r.sb.db.QueryRowxContext(ctx, query, args...)
	}
	return r.primary.QueryRowxContext(ctx, query, args...)
}

// read runs fn, a read that consumes its rows before it returns, on the
// standby when ctx allows it and the standby is usable, and again on the
// primary if the standby failed it. reset undoes what a failed try left
// behind, when not nil.
func (r *routed) read(ctx context.Context, reset func(), fn func(sqlx.QueryerContext) error) error {
	if r.standby(ctx) {
		err := fn(r.sb.db)
		if !r.retry(ctx, err) {
			return err
		}
		if reset != nil {
			reset()
		}
	}
	return fn(r.primary)
}

func (r *routed) get(ctx context.Context, dest any, query string, args ...any) error {
	return r.read(ctx, nil, func(db sqlx.QueryerContext) error { return sqlx.GetContext(ctx, db, dest, query, args...) })
}

func (r *routed) sel(ctx context.Context, dest any, query string, args ...any) error {
	reset := func() {
		v := reflect.ValueOf(dest).Elem()
		v.Set(reflect.Zero(v.Type()))
	}
	return r.read(ctx, reset, func(db sqlx.QueryerContext) error { return sqlx.SelectContext(ctx, db, dest, query, args...) })
}

// InRecovery reports whether the store's database is a standby in recovery,
// which refuses every write: `auditgraph verify --database-url` pointed at a
// standby then leaves migrations and partitions alone.
func (s *Store) InRecovery(ctx context.Context) (bool, error) {
	var in bool
	if err := s.db.GetContext(ctx, &in, `SELECT pg_is_in_recovery()`); err != nil {
		return false, fmt.Errorf("storage: recovery status: %w", err)
	}
	return in, nil
}
