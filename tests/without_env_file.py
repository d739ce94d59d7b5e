"""A pytest plugin that keeps any ``.env`` file out of the suite, loaded before Django's settings.

``pyproject.toml`` loads it with ``-p tests.without_env_file``, so it runs however pytest is started
(``make test``, plain ``pytest``, one file): ``imagegen.settings`` reads the file that ``ENV_FILE``
names, and an empty ``ENV_FILE`` reads none. A developer's ``.env`` would otherwise change what the
tests see (a vendor variable, a ``DATABASE_URL``) and break ``make test``. The gateway subprocesses
inherit it through ``tests.gateway_process``.
"""

import os

os.environ["ENV_FILE"] = ""
