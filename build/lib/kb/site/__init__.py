"""The site: build (aside, then swap), pages, the MkDocs plugin, and the local preview."""
