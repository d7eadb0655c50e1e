// Package storage keeps auditgraph's state in PostgreSQL. All SQL lives here,
// and only SQL: the domain packages decide which statements run in which
// order (package ledger, for instance, the steps of an append to the audit
// log). It imports nothing of the module but audit and entity, the rows it
// shares with the domain (tools/layering tests it).
package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/internal/entity"
)

// Errors callers test for with errors.Is: the entity package's kinds, the
// same values (outside storage, the domain names them fault.ErrNotFound, …).
var (
	ErrNotFound = entity.ErrNotFound
	// ErrConflict means a unique name or key is already taken.
	ErrConflict = entity.ErrConflict
	// ErrInvalid means the database refused a value its checks do not allow.
	ErrInvalid = entity.ErrInvalid
)

// Store is the PostgreSQL-backed state of one auditgraph deployment.
type Store struct {
	queries
	db    *sqlx.DB
	parts *partitions
	// sb is the standby's pool, nil without one (see standby.go).
	sb *standby
}

// queries holds the statements that run the same inside or outside a
// transaction; Store and Tx both embed it.
type queries struct {
	q sqlx.ExtContext
	// stmts keeps the hot reads prepared (prepared.go); nil in a
	// transaction, whose reads run unprepared.
	stmts *stmtCache
}

// Tx is a transaction. Every change is made through a Tx so that it commits
// together with its audit event.
type Tx struct {
	queries
	tx    *sqlx.Tx
	conn  *sqlx.Conn // the connection tx runs on
	parts *partitions
	// pool and cache prepare the append path's statements (txprepared.go);
	// nil in the transactions that do not have them.
	pool  *sqlx.DB
	cache *stmtCache
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenDriver(ctx, "postgres", url)
}

// OpenDriver is Open through another registered database/sql driver that
// speaks to PostgreSQL, such as a test's query-counting wrapper of lib/pq.
func OpenDriver(ctx context.Context, driver, url string) (*Store, error) {
	db, err := openPool(driver, url)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	return &Store{queries: queries{q: db, stmts: newStmtCache()}, db: db, parts: &partitions{have: map[time.Time]bool{}}}, nil
}

// openPool returns a pool of connections to url, not connected yet.
// maxOpenConns is the most connections a pool opens.
const maxOpenConns = 20

func openPool(driver, url string) (*sqlx.DB, error) {
	var db *sqlx.DB
	if driver == "postgres" {
		cfg, err := pq.NewConfig(url)
		if err != nil {
			return nil, err
		}
		// Without it lib/pq sends a query with parameters in two round
		// trips (prepare, then bind and execute); every query here has them.
		cfg.BinaryParameters = true
		conn, err := pq.NewConnectorConfig(cfg)
		if err != nil {
			return nil, err
		}
		db = sqlx.NewDb(sql.OpenDB(conn), "postgres")
	} else {
		sqlx.BindDriver(driver, sqlx.DOLLAR)
		var err error
		if db, err = sqlx.Open(driver, url); err != nil {
			return nil, err
		}
	}
	// As many idle connections as open ones: with fewer, a burst of more
	// concurrent requests than the idle limit closes a connection at each
	// release and opens a new one soon after (a PostgreSQL backend forked,
	// its catalog caches warmed again, the hot statements prepared again).
	// 16 clients on the members page churned through 70 backends in 6 s,
	// about a third of PostgreSQL's CPU per request. Idle ones close after
	// five minutes.
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// DB returns the underlying pool, for health checks and tests.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the pool (and the standby's).
func (s *Store) Close() error {
	s.stmts.close()
	s.closeStandby()
	return s.db.Close()
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back when it returns an error or panics.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) (err error) {
	conn, tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	defer conn.Close() // after the rollback below: back to the pool
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(&Tx{queries: queries{q: tx}, tx: tx, conn: conn, parts: s.parts, pool: s.db, cache: s.stmts}); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}

// begin starts a transaction on a connection of its own, which the caller
// closes after the transaction ends: the connection lets InsertEvents reach
// the driver (conn.Raw) inside the transaction. Like the pool's BeginTx, it
// tries again on another connection when the one it got has gone bad (a
// restarted server leaves each pooled connection bad once).
func (s *Store) begin(ctx context.Context) (*sqlx.Conn, *sqlx.Tx, error) {
	for attempt := 0; ; attempt++ {
		conn, err := s.db.Connx(ctx)
		if err != nil {
			return nil, nil, err
		}
		tx, err := conn.BeginTxx(ctx, nil)
		if err == nil {
			return conn, tx, nil
		}
		conn.Close()
		if !errors.Is(err, driver.ErrBadConn) || attempt == 2 {
			return nil, nil, err
		}
	}
}

// classify maps PostgreSQL's constraint errors onto the package's sentinels,
// keeping the original error in the chain.
func classify(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case "23514", "22001", "23502":
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return err
}
