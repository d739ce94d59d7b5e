"""The catalog of known image models (``models.toml``): reading it (``entries``), matching a model to an
entry and filling a model from it (``fill``), and comparing and re-applying it (``drift``)."""
