"""The database schema's history (Alembic): `env.py`, the revision template and `versions/`.

A top-level package so that the repository root has `migrations/` beside `alembic.ini` (plain `alembic upgrade head`
works there) and an installed wheel carries the same files as package data (`triage-bot db upgrade`).
"""
