from django.apps import AppConfig


class ImagegenConfig(AppConfig):
    name = "imagegen"
    verbose_name = "Gateway"

    def ready(self):
        from . import signals  # noqa: F401  (client-key cache invalidation)
