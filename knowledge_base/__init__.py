"""Guichet's knowledge base: the procedures' entries, and the code that validates, indexes and searches them.

Modules: ``models`` (Entry, Localized), ``config`` (KnowledgeBaseSettings), ``store`` (load_entries,
validate_entries), ``embeddings`` (pluggable backends), ``index`` (build_index, index_status), ``search``
(Searcher), ``evaluation`` (metrics) and ``cli`` (``python -m knowledge_base``). It imports nothing from
``api/``, ``actions/`` or Rasa.
"""
