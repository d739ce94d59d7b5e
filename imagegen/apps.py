from django.apps import AppConfig


class ImagegenConfig(AppConfig):
    name = "imagegen"
    verbose_name = "Gateway"

    def ready(self):
        from . import alert_checks, signals  # noqa: F401  (alerts on key events; client-key cache invalidation)
