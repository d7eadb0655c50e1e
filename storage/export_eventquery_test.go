package storage

// EventsSQL is Events' statement and arguments, for its plan test.
func EventsSQL(f EventFilter) (string, []any, error) { return eventsSQL(f) }
