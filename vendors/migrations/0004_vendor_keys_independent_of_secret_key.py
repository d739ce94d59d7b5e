"""Vendor keys stop depending on SECRET_KEY.

Rows written before were encrypted with a key derived from SECRET_KEY (unless ENCRYPTION_KEY was
set) and fingerprinted with an HMAC keyed by it. This re-encrypts every readable row with the first
of ENCRYPTION_KEYS and recomputes its fingerprint as a plain SHA-256 (vendors/crypto.py), the same
work as `manage.py rotate_encryption_key`. Rows no key can read are left as they were; the routing
table skips them with a log line, as before. Going back is not supported: older code could not read
the re-encrypted rows.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from vendors.key_rotation import rotate_vendor_keys

    report = rotate_vendor_keys(apps.get_model("vendors", "VendorKey"), apps.get_model("vendors", "Vendor"))
    if report.unreadable or report.duplicates:
        print(
            f"\n  vendor keys: {report.reencrypted} re-encrypted; unreadable, left as they were: "
            f"{', '.join(report.unreadable) or 'none'}; stored twice: {', '.join(report.duplicates) or 'none'}"
        )


class Migration(migrations.Migration):
    dependencies = [("vendors", "0003_vendor_kind_choices_from_registry")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
