"""Write the service's OpenAPI document to a file, without a database.

Used by `make client`: the document is what the app serves at /api/openapi.json; building it
opens no connection, so a placeholder DATABASE_URL is enough when none is set.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgresql://placeholder@localhost/placeholder")
os.environ.setdefault("LOG_LEVEL", "warning")

from sesame import create_app  # noqa: E402


def main(target: str) -> None:
    document = create_app().test_client().get("/api/openapi.json").get_json()
    Path(target).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
