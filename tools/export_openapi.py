"""Write the service's OpenAPI document to a file, without a database.

Used by `make client` (`python -m tools.export_openapi FILE`): the document is what the app
serves at /api/openapi.json; building it opens no connection, so a placeholder DATABASE_URL is
enough when none is set. Never connects to a database and never edits the document by hand.
"""

import json
import os
import sys
from pathlib import Path

from sesame import create_app


def main(target: str) -> None:
    os.environ.setdefault("DATABASE_URL", "postgresql://placeholder@localhost/placeholder")
    document = create_app().test_client().get("/api/openapi.json").get_json()
    Path(target).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
