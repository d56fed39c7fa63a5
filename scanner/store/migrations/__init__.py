"""Alembic migrations of the snapshot schema, shipped inside the package."""
