"""Benchmarks (``make bench``): speed of the knowledge base and of whole chat turns."""
