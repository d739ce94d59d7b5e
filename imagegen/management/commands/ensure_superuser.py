"""Create the admin user named by DJANGO_SUPERUSER_* once; safe to run at every start."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

HOW_TO = (
    "No admin user created: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD "
    "(DJANGO_SUPERUSER_EMAIL optional), or run `python manage.py createsuperuser`."
)


class Command(BaseCommand):
    help = (
        "Create the superuser named by DJANGO_SUPERUSER_USERNAME with DJANGO_SUPERUSER_PASSWORD "
        "(and DJANGO_SUPERUSER_EMAIL) if it does not exist yet. An existing user is left as it is."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip()
        if not username or not password:
            self.stdout.write(HOW_TO)
            return
        User = get_user_model()
        existing = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if existing is not None:
            note = "" if existing.is_superuser else " (it is not a superuser; change that in admin if needed)"
            self.stdout.write(f"User {username!r} already exists; left as it is{note}.")
            return
        User._default_manager.create_superuser(**{User.USERNAME_FIELD: username}, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Superuser {username!r} created."))
