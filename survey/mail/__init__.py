"""The outbox: message building, MIME, transports, delivery, the worker and its CLI."""
