"""Rebuild the search index of an already built site: `python build_search.py [mkdocs.yml]`.

`kb build` and `mkdocs build` write the index themselves; this is for rebuilding it alone.
"""

from kb.search_site import main

if __name__ == "__main__":
    raise SystemExit(main())
