"""``import_env`` seeds, the admin decides: what a re-run keeps, applies, reports and skips."""

import pytest

from imagegen.models import EnvImport, OptimizerSettings
from tests.commands.seed_env import FLUX, counts, run, run_apart, set_env
from vendors import crypto
from vendors.models import ImageModel, Vendor, VendorKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_env")]

DRIFT = "Admin differs from the environment"
REPLACED = "The environment replaced an edit made in admin"
OPTIMIZER = {"OPENAI_API_KEY": "sk-openai-abcd", "OPENAI_MODEL": "gpt-4o-mini"}


def seeded(clean_env, **extra):
    """The FLUX_GEN_* vendor imported once, with ``extra`` variables (they win over FLUX's)."""
    set_env(clean_env, **{**FLUX, **extra})
    run()
    return Vendor.objects.get(name="siliconflow")


def test_admin_edits_survive_a_rerun_and_are_reported_as_drift(clean_env):
    vendor = seeded(clean_env, FLUX_GEN_MODEL="flux-pro=black-forest-labs/FLUX.1-pro", **OPTIMIZER)
    Vendor.objects.filter(pk=vendor.pk).update(kind="openai_images", base_url="https://relay.example.com/v1")
    ImageModel.objects.filter(name="flux-pro").update(upstream_name="flux-pro-edited")
    OptimizerSettings.objects.filter(pk=1).update(mode="off")

    out, err = run_apart()

    vendor.refresh_from_db()
    assert (vendor.kind, vendor.base_url) == ("openai_images", "https://relay.example.com/v1")
    assert ImageModel.objects.get(name="flux-pro").upstream_name == "flux-pro-edited"
    assert OptimizerSettings.objects.get(pk=1).mode == "off"
    assert err.count(DRIFT) == 4
    assert "vendor 'siliconflow' kind is 'openai_images' in admin but 'siliconflow' in FLUX_GEN_API_BASE" in err
    assert "vendor 'siliconflow' base URL in admin differs from FLUX_GEN_API_BASE" in err
    assert "'flux-pro-edited' in admin but 'black-forest-labs/FLUX.1-pro' in FLUX_GEN_MODEL" in err
    assert "the prompt optimizer is off mode" in err
    assert "Prompt optimizer: kept as set in admin" in out
    assert "Everything is unchanged." in out


def test_drift_reports_never_show_an_upstream_url(clean_env):
    vendor = seeded(clean_env)
    Vendor.objects.filter(pk=vendor.pk).update(base_url="https://relay.example.com/v1?token=abc")

    output = run()

    assert DRIFT in output
    assert "relay.example.com" not in output and "siliconflow.cn" not in output


def test_an_environment_change_after_an_admin_edit_wins_and_says_it_replaced_the_edit(clean_env):
    vendor = seeded(clean_env, FLUX_GEN_MODEL="flux-pro=black-forest-labs/FLUX.1-pro")
    ImageModel.objects.filter(name="flux-pro").update(upstream_name="flux-pro-edited")
    Vendor.objects.filter(pk=vendor.pk).update(base_url="https://relay.example.com/v1")
    clean_env.setenv("FLUX_GEN_MODEL", "flux-pro=black-forest-labs/FLUX.1.1-pro")
    clean_env.setenv("FLUX_GEN_API_BASE", "https://api.siliconflow.com/v1")

    out, err = run_apart()

    assert ImageModel.objects.get(name="flux-pro").upstream_name == "black-forest-labs/FLUX.1.1-pro"
    assert Vendor.objects.get(pk=vendor.pk).base_url == "https://api.siliconflow.com/v1"
    assert f"{REPLACED}: model 'flux-pro' upstream name (FLUX_GEN_MODEL changed since the last import)" in err
    assert f"{REPLACED}: vendor 'siliconflow' base URL (FLUX_GEN_API_BASE changed" in err
    assert "base URL updated from the environment" in out and "1 model(s) updated" in out
    assert DRIFT not in err


def test_a_changed_optimizer_variable_replaces_the_mode_set_in_admin(clean_env):
    seeded(clean_env, **OPTIMIZER)
    OptimizerSettings.objects.filter(pk=1).update(mode="off", time_budget=7)
    clean_env.delenv("OPENAI_MODEL")
    clean_env.setenv("OPENAI_MODEL_REASONING", "deepseek-r1")

    output = run()

    row = OptimizerSettings.objects.get(pk=1)
    assert (row.mode, row.model, row.time_budget) == ("reasoning", "deepseek-r1", 7)
    assert "set to reasoning mode, model 'deepseek-r1'" in output
    assert f"{REPLACED}: the prompt optimizer's mode, vendor and model (OPENAI_MODEL_REASONING" in output


def test_a_key_deleted_in_admin_stays_deleted_while_the_environment_still_lists_it(clean_env):
    vendor = seeded(clean_env)
    vendor.keys.get(last4="one1").delete()

    output = run()

    assert list(vendor.keys.values_list("last4", flat=True)) == ["two2"]
    assert "1 key(s) of FLUX_GEN_API_KEY were deleted in admin after the last import: not re-added (…one1;" in output
    assert "Everything is unchanged." in output
    assert "sk-flux-secret" not in output


def test_a_key_added_to_the_environment_is_added_without_bringing_back_one_deleted_in_admin(clean_env):
    vendor = seeded(clean_env)
    vendor.keys.get(last4="one1").delete()
    clean_env.setenv("FLUX_GEN_API_KEY", "sk-flux-secret-one1,sk-flux-secret-two2,sk-flux-secret-new3")

    output = run()

    assert sorted(vendor.keys.values_list("last4", flat=True)) == ["new3", "two2"]
    assert "1 key(s) added (…new3)" in output and "not re-added (…one1;" in output


def test_a_key_dropped_from_the_environment_and_listed_again_later_is_added_again(clean_env):
    vendor = seeded(clean_env)
    vendor.keys.get(last4="one1").delete()
    clean_env.setenv("FLUX_GEN_API_KEY", "sk-flux-secret-two2")
    run()
    clean_env.setenv("FLUX_GEN_API_KEY", "sk-flux-secret-one1,sk-flux-secret-two2")

    output = run()

    assert sorted(vendor.keys.values_list("last4", flat=True)) == ["one1", "two2"]
    assert "1 key(s) added (…one1)" in output


def test_a_model_deleted_in_admin_is_not_re_created(clean_env):
    vendor = seeded(clean_env)
    ImageModel.objects.filter(name="flux-pro").delete()

    output = run()

    assert list(vendor.models.values_list("name", flat=True)) == ["flux-schnell"]
    assert "Model(s) 'flux-pro' were deleted in admin after the last import: not re-created" in output


def test_a_vendor_deleted_in_admin_stays_deleted_until_its_import_record_is_deleted(clean_env):
    seeded(clean_env).delete()

    output = run()

    assert counts() == (0, 0, 0, 0)
    assert "Vendor 'siliconflow' (siliconflow): deleted in admin after the last import, so not re-created" in output

    EnvImport.objects.filter(target="vendor:siliconflow").delete()
    run()
    assert counts() == (1, 2, 2, 0)


def test_a_model_moved_to_another_variable_moves_to_that_vendor_with_its_admin_settings(clean_env):
    seeded(clean_env)
    ImageModel.objects.filter(name="flux-pro").update(default_size="768x512")
    clean_env.setenv("FLUX_GEN_MODEL", "flux-schnell")
    set_env(clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com", IMAGE_GEN_MODEL_1="flux-pro")
    clean_env.setenv("IMAGE_GEN_API_KEY_1", "k1")

    output = run()

    model = ImageModel.objects.get(name="flux-pro")
    assert (model.vendor.name, model.default_size) == ("image-gen-1", "768x512")
    assert "already served" not in output


def test_a_model_moved_to_another_vendor_in_admin_stays_there(clean_env):
    seeded(clean_env)
    other = Vendor.objects.create(name="hand-made", kind="chat_image", base_url="https://x.example.com")
    ImageModel.objects.filter(name="flux-pro").update(vendor=other)

    output = run()

    assert ImageModel.objects.get(name="flux-pro").vendor == other
    assert f"{DRIFT}: model 'flux-pro' vendor is 'hand-made' in admin but 'siliconflow' in FLUX_GEN_MODEL" in output


def test_rows_made_before_the_import_remembered_anything_take_the_environment_once(clean_env):
    vendor = Vendor.objects.create(name="siliconflow", kind="siliconflow", base_url="https://old.example.com/v1")
    ImageModel.objects.create(vendor=vendor, name="flux-pro", upstream_name="old-name")
    OptimizerSettings.load()  # the default row a running gateway creates: off
    set_env(clean_env, **OPTIMIZER)
    clean_env.setenv("FLUX_GEN_MODEL", "flux-pro=black-forest-labs/FLUX.1-pro")
    set_env(clean_env, FLUX_GEN_API_BASE=FLUX["FLUX_GEN_API_BASE"], FLUX_GEN_API_KEY="sk-flux-secret-one1")

    output = run()

    vendor.refresh_from_db()
    assert vendor.base_url == FLUX["FLUX_GEN_API_BASE"]
    assert ImageModel.objects.get(name="flux-pro").upstream_name == "black-forest-labs/FLUX.1-pro"
    assert OptimizerSettings.objects.get(pk=1).mode == "fast"
    assert REPLACED not in output and DRIFT not in output


def test_a_dry_run_reports_the_changes_and_drift_but_writes_nothing_not_even_what_it_remembers(clean_env):
    vendor = seeded(clean_env)
    Vendor.objects.filter(pk=vendor.pk).update(kind="openai_images")
    vendor.keys.get(last4="one1").delete()
    records = list(EnvImport.objects.values_list("target", "values", "imported_at"))
    clean_env.setenv("FLUX_GEN_MODEL", "flux-pro,flux-dev")
    set_env(clean_env, **OPTIMIZER)

    output = run("--dry-run")

    assert "1 model(s) created" in output and DRIFT in output and "Dry run: nothing was written." in output
    assert counts() == (1, 2, 1, 0)
    assert Vendor.objects.get(pk=vendor.pk).kind == "openai_images"
    assert list(EnvImport.objects.values_list("target", "values", "imported_at")) == records


def test_the_import_remembers_key_fingerprints_never_keys(clean_env):
    seeded(clean_env)

    record = EnvImport.objects.get(target="vendor:siliconflow")

    assert record.values["keys"] == sorted(
        crypto.fingerprint(raw) for raw in ("sk-flux-secret-one1", "sk-flux-secret-two2")
    )
    assert "sk-flux-secret" not in str(record.values)


def test_a_vendor_dropped_from_the_environment_is_forgotten_and_new_when_it_comes_back(clean_env):
    vendor = seeded(clean_env)
    vendor.keys.get(last4="one1").delete()
    for name in FLUX:
        clean_env.delenv(name)
    set_env(clean_env, **OPTIMIZER)
    run()
    assert not EnvImport.objects.filter(target="vendor:siliconflow").exists()
    set_env(clean_env, **FLUX)

    run()

    assert VendorKey.objects.filter(vendor=vendor).count() == 2


def test_the_admin_lists_what_was_imported_and_deleting_a_record_re_imports_that_vendor(clean_env, admin_client):
    seeded(clean_env).keys.get(last4="one1").delete()
    record = EnvImport.objects.get(target="vendor:siliconflow")

    listing = admin_client.get("/admin/imagegen/envimport/").content.decode()
    admin_client.post(f"/admin/imagegen/envimport/{record.pk}/delete/", {"post": "yes"})
    run()

    assert "kind siliconflow; models: flux-pro, flux-schnell; 2 key(s)" in listing
    assert "sk-flux-secret" not in listing and "siliconflow.cn" not in listing
    assert sorted(VendorKey.objects.values_list("last4", flat=True)) == ["one1", "two2"]
