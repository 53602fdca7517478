"""Flask CLI commands of the service: `flask --app sesame webhooks run` (the dispatcher).

Commands run with the app's configuration and database engine; the work itself lives in the
module each command names.
"""

import signal
from typing import Any

from flask import current_app
from flask.cli import AppGroup

from database import db
from dispatcher import Dispatcher, DispatchSettings

webhooks_cli = AppGroup("webhooks", help="Deliver webhook events.")


@webhooks_cli.command("run")
def run_dispatcher() -> None:
    """Deliver webhook events until SIGTERM or Ctrl-C (attempts in flight finish first)."""
    dispatcher = Dispatcher(db.engine, DispatchSettings.from_config(current_app.config))

    def _stop(*_: Any) -> None:
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.run()
