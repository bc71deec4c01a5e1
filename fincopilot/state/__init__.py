"""Shared state: the state database (SQLite or PostgreSQL), migrations, principals, threads, runs."""
