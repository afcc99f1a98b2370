"""Persistence: request log, keys, spend, router registry (SQLite and PostgreSQL behind one interface)."""
