"""Developer tool: write a new migration from the difference between models and migrations.

Run: .venv/bin/python scripts/revision.py "message" [head]

It lives outside the package: it needs every table (bodyworn.controller.models), and the
store layer imports nothing of the controller.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from bodyworn.controller.models import Base
from bodyworn.store.db import alembic_config, make_engine, upgrade


def main() -> None:
    """Migrate a scratch database to head, then autogenerate a revision against the models."""
    message = sys.argv[1] if len(sys.argv) > 1 else "change"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        engine = make_engine(url)
        upgrade(engine)
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes["target_metadata"] = Base.metadata
            # With branches open (several heads), name the one to build on: argv[2].
            head = sys.argv[2] if len(sys.argv) > 2 else "head"
            command.revision(cfg, message=message, autogenerate=True, head=head)


if __name__ == "__main__":
    main()
