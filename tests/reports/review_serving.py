"""The review app's server running in a thread on a free port, for the tests that talk to it."""

import threading
from contextlib import contextmanager

from constitutional.cli.review import eval_lines
from constitutional.reports.review_app import ReviewServer, ReviewState
from tests.standins.server import SHUTDOWN_POLL


@contextmanager
def serving(run, reviewer: str):
    srv = ReviewServer(ReviewState(run, eval_lines(run), reviewer=reviewer), port=0)
    thread = threading.Thread(target=srv.serve_forever, args=(SHUTDOWN_POLL,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
