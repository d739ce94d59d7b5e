from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from vendors.key_state import record_switch
from vendors.models import ImageModel, ModelPrice, Vendor, VendorKey
from vendors.selectors import invalidate_routing_table


@receiver([post_save, post_delete], sender=Vendor)
@receiver([post_save, post_delete], sender=ImageModel)
@receiver([post_save, post_delete], sender=VendorKey)
@receiver([post_save, post_delete], sender=ModelPrice)
def drop_routing_table(**kwargs):
    invalidate_routing_table()


@receiver(pre_save, sender=VendorKey)
def note_the_switch(instance: VendorKey, **kwargs):
    """Remember whether the key was switched on before this save, to record a change of the operator's switch."""
    if instance.pk is not None and not kwargs.get("raw"):
        instance._was_enabled = VendorKey.objects.filter(pk=instance.pk).values_list("enabled", flat=True).first()


@receiver(post_save, sender=VendorKey)
def record_the_switch(instance: VendorKey, created: bool, **kwargs):
    was_enabled = getattr(instance, "_was_enabled", None)
    if not created and was_enabled is not None:
        record_switch(instance, was_enabled)
    instance._was_enabled = None
