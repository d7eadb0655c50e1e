package storage

import "github.com/lib/pq"

func int64Array(xs []int64) pq.Int64Array {
	if xs == nil {
		return pq.Int64Array{}
	}
	return pq.Int64Array(xs)
}
