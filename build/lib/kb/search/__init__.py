"""Search: text analysis, the index builder, the Python ranker and the site's index files."""
