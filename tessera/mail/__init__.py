"""Mail: outgoing messages (composition, the outbox, SMTP delivery)."""
