"""Rebuild the search index of an already built site: `python build_search.py [mkdocs.yml]`.

`kb build` and `mkdocs build` write the index themselves; this is for rebuilding it alone.
"""

import sys

from kb.cli.site import build_search_main

if __name__ == "__main__":
    raise SystemExit(build_search_main(sys.argv[1:]))
