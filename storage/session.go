package storage

import (
	"context"
	"fmt"
	"time"
)

// Session is a browser sign-in session; the token is never stored, only
// its hash.
type Session struct {
	ID         int64     `db:"id"`
	UserID     int64     `db:"user_id"`
	APIKeyID   int64     `db:"api_key_id"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
}

const sessionColumns = `id, user_id, api_key_id, created_at, last_seen_at, expires_at`

// CreateSession stores a session under the hash of its token, opened at
// now with the key keyID and ending at expires at the latest.
func (tx *Tx) CreateSession(ctx context.Context, hash []byte, userID, keyID int64, now, expires time.Time) (Session, error) {
	var s Session
	err := tx.get(ctx, &s, `INSERT INTO sessions (hash, user_id, api_key_id, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5) RETURNING `+sessionColumns, hash, userID, keyID, now, expires)
	if err != nil {
		return s, fmt.Errorf("storage: create session for user %d: %w", userID, classify(err))
	}
	return s, nil
}

// SessionByHash returns the session whose token has hash, with its user, in
// one query. It does not check expiry or whether the user is deactivated:
// callers decide.
func (q queries) SessionByHash(ctx context.Context, hash []byte) (Session, User, error) {
	var row struct {
		Session
		User `db:"u"`
	}
	err := q.get(ctx, &row, `SELECT s.id, s.user_id, s.api_key_id, s.created_at, s.last_seen_at, s.expires_at,
		u.id AS "u.id", u.username AS "u.username", u.name AS "u.name", COALESCE(u.email, '') AS "u.email",
		u.instance_admin AS "u.instance_admin", u.service_account_team AS "u.service_account_team",
		u.default_org_id AS "u.default_org_id", u.deactivated_at AS "u.deactivated_at", u.created_at AS "u.created_at"
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1`, hash)
	return row.Session, row.User, notFound(err, "storage: get session")
}

// TouchSession records that session id was used at t.
func (q queries) TouchSession(ctx context.Context, id int64, t time.Time) error {
	_, err := q.exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, t)
	if err != nil {
		return fmt.Errorf("storage: touch session %d: %w", id, err)
	}
	return nil
}

// DeleteSession deletes the session whose token has hash and returns it;
// ErrNotFound when there is none.
func (q queries) DeleteSession(ctx context.Context, hash []byte) (Session, error) {
	var s Session
	err := q.get(ctx, &s, `DELETE FROM sessions WHERE hash = $1 RETURNING `+sessionColumns, hash)
	return s, notFound(err, "storage: delete session")
}

// DeleteSessionByID deletes session id, if it is still there.
func (q queries) DeleteSessionByID(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("storage: delete session %d: %w", id, err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions past their absolute end at
// now, or unused since idleSince, and returns how many.
func (q queries) DeleteExpiredSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2`, now, idleSince)
	if err != nil {
		return 0, fmt.Errorf("storage: delete expired sessions: %w", err)
	}
	return n, nil
}

// UserSessions returns the sessions of user userID, oldest first.
func (q queries) UserSessions(ctx context.Context, userID int64) ([]Session, error) {
	var ss []Session
	if err := q.sel(ctx, &ss, `SELECT `+sessionColumns+` FROM sessions WHERE user_id = $1 ORDER BY id`, userID); err != nil {
		return nil, fmt.Errorf("storage: sessions of user %d: %w", userID, err)
	}
	return ss, nil
}

// RevokedSessions returns, of the sessions with ids, those that no longer
// exist (signed out, cleaned up, or ended by a deactivation or a deleted
// key) or are past their absolute end at now. One query for any number of
// sessions.
func (q queries) RevokedSessions(ctx context.Context, ids []int64, now time.Time) (map[int64]bool, error) {
	var gone []int64
	err := q.sel(ctx, &gone, `SELECT i.id FROM unnest($1::bigint[]) AS i(id)
		LEFT JOIN sessions s ON s.id = i.id WHERE s.id IS NULL OR s.expires_at <= $2`, int64Array(ids), now)
	if err != nil {
		return nil, fmt.Errorf("storage: revoked sessions: %w", err)
	}
	out := make(map[int64]bool, len(gone))
	for _, id := range gone {
		out[id] = true
	}
	return out, nil
}
