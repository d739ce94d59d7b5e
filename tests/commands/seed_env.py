"""Running ``import_env`` in-process with a chosen environment, for the import's tests."""

from io import StringIO

from django.core.management import call_command

from imagegen.models import OptimizerSettings
from vendors.models import ImageModel, Vendor, VendorKey

FLUX = {
    "FLUX_GEN_API_BASE": "https://api.siliconflow.cn/v1/images/generations",
    "FLUX_GEN_MODEL": " flux-pro , ,flux-schnell,",
    "FLUX_GEN_API_KEY": "sk-flux-secret-one1, sk-flux-secret-two2 ,",
}


def set_env(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def run(*args):
    """The command's stdout and stderr together, as `make run` shows them."""
    out, err = StringIO(), StringIO()
    call_command("import_env", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def run_apart(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_env", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts():
    return (
        Vendor.objects.count(),
        ImageModel.objects.count(),
        VendorKey.objects.count(),
        OptimizerSettings.objects.count(),
    )
