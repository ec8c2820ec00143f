"""Persistence: schema, migrations, repositories, live events, retention."""
