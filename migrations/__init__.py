"""Alembic migrations of the Kamerwacht database (run with `kamerwacht migrate`)."""
