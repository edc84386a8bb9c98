"""Alembic migrations, shipped inside the package as ``kapta_vendus.migrations``."""
