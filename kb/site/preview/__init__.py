"""The preview behind `kb serve`: the site built once, then updated edit by edit, and served with the collector."""
