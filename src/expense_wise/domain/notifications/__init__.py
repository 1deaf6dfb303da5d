"""Email notifications through an outbox: address verification, password reset, budget alerts
and the monthly summary."""
