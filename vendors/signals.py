from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from vendors.models import ImageModel, ModelPrice, Vendor, VendorKey
from vendors.selectors import invalidate_routing_table


@receiver([post_save, post_delete], sender=Vendor)
@receiver([post_save, post_delete], sender=ImageModel)
@receiver([post_save, post_delete], sender=VendorKey)
@receiver([post_save, post_delete], sender=ModelPrice)
def drop_routing_table(**kwargs):
    invalidate_routing_table()
