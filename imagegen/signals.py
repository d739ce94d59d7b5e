from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from imagegen.client_keys import invalidate_client_keys
from imagegen.models import ClientKey, OptimizerSettings, StylePreset
from imagegen.prompts import invalidate_optimizer_config
from imagegen.styles import invalidate_presets


@receiver([post_save, post_delete], sender=ClientKey)
def drop_client_keys(**kwargs):
    invalidate_client_keys()


@receiver([post_save, post_delete], sender=OptimizerSettings)
def drop_optimizer_config(**kwargs):
    invalidate_optimizer_config()


@receiver([post_save, post_delete], sender=StylePreset)
def drop_style_presets(**kwargs):
    invalidate_presets()
