"""Backend side of notifications: SQL stores for the outbox, inbox and push devices, and wiring."""
