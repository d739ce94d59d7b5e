"""``manage.py import_env``'s work: ``specs`` reads the seed's environment, ``rows`` writes what it asks for."""
