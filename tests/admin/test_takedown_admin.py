"""Taking images down from the admin (from the stored images' list and from the ledger's), and the
retention field of the image model page."""

from __future__ import annotations

from html import unescape

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.core.files.storage import default_storage
from django.urls import reverse

from imagegen.models import Generation
from proxy.models import StoredImage
from proxy.services import store_image
from tests.admin.test_vendor_admin import model_post, model_url
from tests.fakes.server import png_bytes
from tests.proxy import run
from vendors.models import ImageModel, Vendor

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = reverse("admin:proxy_storedimage_changelist")
LEDGER = reverse("admin:imagegen_generation_changelist")


def stored(colour=(1, 2, 3)) -> StoredImage:
    return run(store_image(data=png_bytes(30, 20, colour), vendor="fake"))


def act(client, url, action, rows, reason="court order 7"):
    data = {"action": action, ACTION_CHECKBOX_NAME: [row.pk for row in rows], "reason": reason, "index": 0}
    return client.post(url, data, follow=True)


def test_the_takedown_action_records_who_and_why_and_the_url_answers_410(admin_client, admin_user, client):
    image, other = stored(), stored((4, 5, 6))

    response = act(admin_client, IMAGES, "take_down_selected", [image])

    assert "Took down 1 image(s): their URLs answer 410 Gone. Deleted 1 file(s)" in unescape(response.content.decode())
    row = StoredImage.objects.get(pk=image.pk)
    assert (row.removed_by, row.removal_reason, row.removal) == (admin_user.username, "court order 7", "taken_down")
    assert client.get(image.path).status_code == 410
    assert not default_storage.exists(image.file)
    assert client.get(other.path).status_code == 200
    page = unescape(admin_client.get(reverse("admin:proxy_storedimage_change", args=[image.pk])).content.decode())
    assert "answers 410 Gone" in page and "court order 7" in page


def test_a_takedown_without_a_reason_does_nothing(admin_client, client):
    image = stored()

    response = act(admin_client, IMAGES, "take_down_selected", [image], reason=" ")

    assert "give a reason" in unescape(response.content.decode())
    assert client.get(image.path).status_code == 200


def test_the_ledger_action_takes_down_a_generations_images_and_keeps_the_generation(admin_client, client):
    first, second, unrelated = stored(), stored((7, 7, 7)), stored((8, 8, 8))
    row = Generation.objects.create(model="flux", status="success", user_prompt="a fox")
    row.images.add(first, second)

    act(admin_client, LEDGER, "take_down_images", [row])

    assert [client.get(image.path).status_code for image in (first, second, unrelated)] == [410, 410, 200]
    assert Generation.objects.get(pk=row.pk).images.count() == 2
    page = unescape(admin_client.get(reverse("admin:imagegen_generation_change", args=[row.pk])).content.decode())
    assert page.count("taken down") >= 2


def test_staff_who_may_only_view_images_get_no_takedown_action(client):
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_storedimage"))
    client.force_login(viewer)
    image = stored()

    page = client.get(IMAGES).content.decode()
    act(client, IMAGES, "take_down_selected", [image])

    assert "take_down_selected" not in page
    assert StoredImage.objects.get(pk=image.pk).removed_at is None


def test_the_retention_is_set_on_the_model_page_and_shown_in_the_model_list(admin_client, settings):
    settings.IMAGE_RETENTION_DAYS = 30
    vendor = Vendor.objects.create(name="sf", kind="siliconflow", base_url="http://127.0.0.1:9/v1")
    kept, default = (ImageModel.objects.create(vendor=vendor, name=name) for name in ("flux-pro", "flux-dev"))

    response = admin_client.post(model_url(kept), model_post(kept, retention_days="7"))

    assert response.status_code == 302
    assert ImageModel.objects.get(pk=kept.pk).retention_days == 7
    listing = unescape(admin_client.get(reverse("admin:vendors_imagemodel_changelist")).content.decode())
    assert "7 d" in listing and "default (30 d)" in listing
    assert default.retention_days is None
