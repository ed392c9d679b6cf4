"""Mail in and out: the gateway that turns received mail into tickets and replies (a pipe command
or an LMTP listener), what it decided about each message, and the outbox's SMTP delivery.

Above the scrips layer: a ticket the gateway creates runs the scrips like any other change. How a
notification is composed is the scrips' (`tessera.scrips.compose`), since scrips queue it.
"""
