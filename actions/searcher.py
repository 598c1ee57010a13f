"""The knowledge-base searcher shared by the actions, loaded on first use.

rasa-sdk runs on Sanic, which must not see a model loaded before its workers
start: the searcher (and its embedding model) is therefore created lazily, on the
first question, and re-reads the index whenever it is rebuilt.
"""

from __future__ import annotations

import logging
import threading

from knowledge_base.search import Searcher

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_searcher: Searcher | None = None


def get_searcher() -> Searcher:
    """Returns the process-wide searcher, loading it or reloading a rebuilt index."""
    global _searcher
    with _lock:
        if _searcher is None:
            logger.info("loading the knowledge-base searcher")
            _searcher = Searcher.load()
        else:
            _searcher.reload_if_changed()
        return _searcher
