"""Votes: the vocabulary, the collector and its server, the store, import/export, simulation."""
