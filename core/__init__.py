"""The bottom layer: plumbing every app shares, importing none of them (see README "Architecture")."""
