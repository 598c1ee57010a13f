"""Guichet's action server (rasa-sdk): answers from the knowledge base.

Run with ``.venv/bin/python -m rasa_sdk --actions actions``. Every module of this
package is imported by rasa-sdk at start-up: none of them may load a model at
import time (models load lazily, inside the worker; see DESIGN.md).
"""
