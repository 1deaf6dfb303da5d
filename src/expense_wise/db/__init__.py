"""Database access: engine and session factory, all models, and the Alembic migrations."""
