package metrics

import "slices"

// The results of an attempt to deliver an alert.
const (
	DeliveryDelivered = "delivered"
	DeliveryRetry     = "retry"
	DeliveryFailed    = "failed"
	DeliveryRevoked   = "revoked"
	DeliveryDropped   = "dropped"
)

var (
	deliveryResults = []string{DeliveryDelivered, DeliveryRetry, DeliveryFailed, DeliveryRevoked, DeliveryDropped}
	// deliveryPlugins are the kinds of notify/integration; a kind the
	// label does not know counts as "other".
	deliveryPlugins = []string{"slack", "webhook", "other"}
)

// Delivery counts an attempt to deliver an alert through plugin with one
// of the Delivery results.
func (m *Metrics) Delivery(plugin, result string) {
	if !slices.Contains(deliveryPlugins, plugin) {
		plugin = "other"
	}
	m.deliveries.WithLabelValues(plugin, result).Inc()
}

// OutboxPending sets the number of alerts waiting for delivery.
func (m *Metrics) OutboxPending(n int) { m.outboxPending.Set(float64(n)) }
