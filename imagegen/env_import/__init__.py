"""``manage.py import_env``'s work: ``specs`` reads the seed's environment; ``rows``, ``image_models`` and
``optimizer`` write what it asks for under the rule in ``memory`` (the environment seeds, the admin decides);
``outcome`` says what happened."""
