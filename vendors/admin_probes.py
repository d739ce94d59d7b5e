"""Checking keys from the admin: "Test key" (the free probe) and a paid test generation behind a confirmation page.

``KeyChecksAdmin`` is mixed into the key admin: two actions, and a per-key ``test/`` URL that the "Test key"
button on the key's page and on its vendor's page posts to. The button belongs to a small form of its own
(``key-test``, CSRF token only, in the pages' ``change_form.html``) placed after the page's form, so pressing
Enter in the page still saves it. Testing changes no key: a key whose probe passes
stays auto-disabled until it is reset (or ``manage.py probe_keys`` heals it).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from vendors.adapters import adapter_class
from vendors.models import ImageModel, VendorKey
from vendors.paid_test import TEST_PROMPT, paid_test_generation
from vendors.probes import KeyProbe, probe_keys

LEVELS = {True: messages.SUCCESS, False: messages.ERROR, None: messages.WARNING}
HEAL_HINT = " It is still auto-disabled: “Reset” puts it back (manage.py probe_keys does by itself)."


def test_button(obj: VendorKey | None) -> str:
    """A "Test key" button that posts the ``key-test`` form to the key's test URL ("—" for a key not saved yet)."""
    if obj is None or obj.pk is None:
        return "—"
    url = reverse("admin:vendors_vendorkey_test", args=[obj.pk])
    return format_html('<button type="submit" class="button" form="key-test" formaction="{}">Test key</button>', url)


class KeyChecksAdmin:
    """Mixin for ``VendorKeyAdmin``."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_key_view)
        return [path("<int:key_id>/test/", view, name="vendors_vendorkey_test"), *super().get_urls()]

    def test_key_view(self, request, key_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        key = get_object_or_404(VendorKey.objects.select_related("vendor"), pk=key_id)
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        self.report_probes(request, probe_keys([key], heal=False))
        back = request.headers.get("Referer", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = reverse("admin:vendors_vendorkey_change", args=[key.pk])
        return HttpResponseRedirect(back)

    @admin.display(description="check")
    def test_key_button(self, obj):
        return test_button(obj)

    @admin.action(description="Test key (free probe: no image, no cost)", permissions=["change"])
    def test_keys(self, request, queryset):
        self.report_probes(request, probe_keys(queryset.select_related("vendor"), heal=False))

    def report_probes(self, request, results: list[KeyProbe]) -> None:
        for result in results:
            hint = HEAL_HINT if result.answer.passed and result.key.status == VendorKey.Status.AUTO_DISABLED else ""
            self.message_user(request, f"Test key: {result.line()}.{hint}", LEVELS[result.answer.passed])

    @admin.action(description="Paid test generation… (one image, billed by the vendor)", permissions=["change"])
    def paid_test_generation(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "A paid test generation is for one key at a time: select one.", messages.ERROR)
            return None
        key = queryset.select_related("vendor").get()
        models = ImageModel.objects.filter(vendor=key.vendor_id)
        if adapter_class(key.vendor.kind).purpose != "image" or not models.exists():
            self.message_user(request, f"Vendor {key.vendor} serves no image model to test.", messages.ERROR)
            return None
        if request.POST.get("confirm") != "yes":
            return self._confirmation(request, key, models)
        model = models.filter(pk=request.POST.get("model") or 0).first()
        if model is None:
            self.message_user(request, "Choose one of the vendor's models.", messages.ERROR)
            return None
        prompt = request.POST.get("prompt", "").strip()[:1000] or TEST_PROMPT
        result = paid_test_generation(key, model, prompt)
        self.message_user(request, result.line(key, model), messages.SUCCESS if result.passed else messages.ERROR)
        return None

    def _confirmation(self, request, key: VendorKey, models) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Paid test generation",
            "key": key,
            "models": models,
            "prompt": TEST_PROMPT,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/vendors/vendorkey/paid_test.html", context)
