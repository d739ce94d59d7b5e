import pytest
from django.core.management.base import CommandError

from imagegen.models import EnvImport, OptimizerSettings
from tests.commands.seed_env import FLUX, counts, run, run_apart, set_env
from vendors import crypto
from vendors.models import ImageModel, Vendor, VendorKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_env")]


def test_flux_variables_become_a_siliconflow_vendor_with_its_models_and_encrypted_keys(clean_env):
    set_env(clean_env, **FLUX)

    output = run()

    vendor = Vendor.objects.get(name="siliconflow")
    assert vendor.kind == "siliconflow"
    assert vendor.base_url == "https://api.siliconflow.cn/v1/images/generations"
    assert sorted(vendor.models.values_list("name", flat=True)) == ["flux-pro", "flux-schnell"]
    keys = list(vendor.keys.order_by("id"))
    assert [key.secret for key in keys] == ["sk-flux-secret-one1", "sk-flux-secret-two2"]
    assert all("sk-flux-secret" not in key.secret_encrypted for key in keys)
    assert "sk-flux-secret" not in output
    assert "…one1" in output and "created" in output


def test_image_gen_variables_make_one_chat_image_vendor_per_number(clean_env):
    set_env(
        clean_env,
        IMAGE_GEN_API_BASE_1="https://api.provider1.com",
        IMAGE_GEN_MODEL_1="modelA,modelB",
        IMAGE_GEN_API_KEY_1="provider1_key",
        IMAGE_GEN_API_BASE_2="http://provider2.internal:8080/v1",
        IMAGE_GEN_MODEL_2="modelC",
        IMAGE_GEN_API_KEY_2="p2-key-a,p2-key-b",
    )

    run()

    first, second = Vendor.objects.get(name="image-gen-1"), Vendor.objects.get(name="image-gen-2")
    assert (first.kind, second.kind) == ("chat_image", "chat_image")
    assert first.base_url == "https://api.provider1.com"
    assert sorted(first.models.values_list("name", flat=True)) == ["modelA", "modelB"]
    assert list(second.models.values_list("name", flat=True)) == ["modelC"]
    assert [key.secret for key in first.keys.all()] == ["provider1_key"]
    assert sorted(key.secret for key in second.keys.all()) == ["p2-key-a", "p2-key-b"]


def test_image_gen_numbering_stops_at_the_first_missing_base(clean_env):
    set_env(
        clean_env,
        IMAGE_GEN_API_BASE_1="https://one.example.com",
        IMAGE_GEN_MODEL_1="one",
        IMAGE_GEN_API_KEY_1="k1",
        IMAGE_GEN_API_BASE_3="https://three.example.com",
        IMAGE_GEN_MODEL_3="three",
        IMAGE_GEN_API_KEY_3="k3",
    )

    output = run()

    assert list(Vendor.objects.values_list("name", flat=True)) == ["image-gen-1"]
    assert not ImageModel.objects.filter(name="three").exists()
    assert "IMAGE_GEN_API_BASE_3" in output


def test_openai_model_sets_the_optimizer_to_fast_mode_with_the_default_base(clean_env):
    set_env(clean_env, OPENAI_API_KEY="sk-openai-abcd", OPENAI_MODEL="gpt-4o-mini")

    run()

    vendor = Vendor.objects.get(name="optimizer")
    assert vendor.kind == "openai_chat"
    assert vendor.base_url == "https://api.openai.com/v1"
    assert [key.secret for key in vendor.keys.all()] == ["sk-openai-abcd"]
    row = OptimizerSettings.objects.get(pk=1)
    assert (row.mode, row.vendor, row.model) == ("fast", vendor, "gpt-4o-mini")


def test_openai_model_reasoning_sets_the_optimizer_to_reasoning_mode_at_the_given_base(clean_env):
    set_env(
        clean_env,
        OPENAI_API_BASE="https://llm.example.com/v1",
        OPENAI_API_KEY="sk-openai-abcd",
        OPENAI_MODEL_REASONING="deepseek-r1",
    )

    run()

    row = OptimizerSettings.objects.get(pk=1)
    assert (row.mode, row.model, row.vendor.base_url) == ("reasoning", "deepseek-r1", "https://llm.example.com/v1")


def test_openai_key_without_a_model_leaves_the_optimizer_untouched(clean_env):
    OptimizerSettings.objects.create(mode="off", time_budget=7)
    set_env(clean_env, OPENAI_API_KEY="sk-openai-abcd", OPENAI_API_BASE="https://api.openai.com/v1")

    output = run()

    row = OptimizerSettings.objects.get(pk=1)
    assert (row.mode, row.vendor, row.time_budget) == ("off", None, 7)
    assert not Vendor.objects.exists()
    assert "left as it is" in output


def test_both_openai_models_set_is_an_error_and_writes_nothing(clean_env):
    set_env(clean_env, **FLUX)
    set_env(clean_env, OPENAI_API_KEY="sk-x", OPENAI_MODEL="gpt-4o-mini", OPENAI_MODEL_REASONING="o3-mini")

    with pytest.raises(CommandError, match="OPENAI_MODEL .*OPENAI_MODEL_REASONING"):
        run()

    assert counts() == (0, 0, 0, 0)


def test_a_second_run_with_the_same_environment_changes_nothing_and_says_so(clean_env):
    set_env(clean_env, **FLUX)
    set_env(clean_env, OPENAI_API_KEY="sk-openai-abcd", OPENAI_MODEL="gpt-4o-mini")
    run()
    before = counts()
    encrypted = sorted(VendorKey.objects.values_list("secret_encrypted", flat=True))

    output = run()

    assert counts() == before == (2, 2, 3, 1)
    assert sorted(VendorKey.objects.values_list("secret_encrypted", flat=True)) == encrypted
    assert "created" not in output and "added" not in output
    assert "unchanged" in output
    assert "Everything is unchanged." in output


def test_a_key_added_to_the_environment_is_added_and_keys_only_in_the_database_are_kept(clean_env):
    set_env(clean_env, **FLUX)
    run()
    vendor = Vendor.objects.get(name="siliconflow")
    admin_key = VendorKey(vendor=vendor, label="from admin")
    admin_key.secret = "sk-admin-added-zzzz"
    admin_key.save()
    clean_env.setenv("FLUX_GEN_API_KEY", "sk-flux-secret-one1,sk-flux-secret-new3")

    output = run()

    fingerprints = set(vendor.keys.values_list("fingerprint", flat=True))
    assert fingerprints == {
        crypto.fingerprint(raw)
        for raw in ("sk-flux-secret-one1", "sk-flux-secret-two2", "sk-flux-secret-new3", "sk-admin-added-zzzz")
    }
    assert "1 key(s) added (…new3)" in output
    assert "2 key(s)" in output and "left as they are" in output


def test_the_same_model_in_two_variables_is_refused_naming_both_and_nothing_is_written(clean_env):
    set_env(clean_env, **FLUX)
    set_env(
        clean_env,
        IMAGE_GEN_API_BASE_1="https://one.example.com",
        IMAGE_GEN_MODEL_1="m1",
        IMAGE_GEN_API_KEY_1="k1",
        IMAGE_GEN_API_BASE_2="https://two.example.com",
        IMAGE_GEN_MODEL_2="other, flux-pro",
        IMAGE_GEN_API_KEY_2="k2",
    )

    with pytest.raises(CommandError) as error:
        run()

    assert "'flux-pro'" in str(error.value)
    assert "FLUX_GEN_MODEL" in str(error.value) and "IMAGE_GEN_MODEL_2" in str(error.value)
    assert counts() == (0, 0, 0, 0)


def test_a_model_name_an_admin_made_vendor_serves_is_skipped_with_a_warning_and_the_rest_is_imported(clean_env):
    other = Vendor.objects.create(name="hand-made", kind="chat_image", base_url="https://x.example.com")
    ImageModel.objects.create(vendor=other, name="flux-schnell")
    set_env(clean_env, **FLUX)

    out, err = run_apart()

    assert "'flux-schnell' from FLUX_GEN_MODEL is already served by vendor 'hand-made'" in err
    assert "skipped" in err
    assert ImageModel.objects.get(name="flux-schnell").vendor == other
    vendor = Vendor.objects.get(name="siliconflow")
    assert list(vendor.models.values_list("name", flat=True)) == ["flux-pro"]
    assert vendor.keys.count() == 2
    assert "Import done." in out


def test_a_skipped_model_is_imported_once_the_admin_frees_its_name(clean_env):
    other = Vendor.objects.create(name="hand-made", kind="chat_image", base_url="https://x.example.com")
    ImageModel.objects.create(vendor=other, name="flux-schnell")
    set_env(clean_env, **FLUX)
    assert "already served by vendor 'hand-made'" in run()
    ImageModel.objects.filter(name="flux-schnell").delete()

    output = run()

    assert ImageModel.objects.get(name="flux-schnell").vendor.name == "siliconflow"
    assert "1 model(s) created" in output and "already served" not in output


def test_a_base_that_is_not_http_is_refused_naming_the_variable(clean_env):
    set_env(clean_env, **FLUX)
    clean_env.setenv("FLUX_GEN_API_BASE", "ftp://files.example.com/v1")

    with pytest.raises(CommandError, match="FLUX_GEN_API_BASE"):
        run()

    assert counts() == (0, 0, 0, 0)


def test_a_base_without_keys_is_refused_naming_the_key_variable(clean_env):
    set_env(
        clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com", IMAGE_GEN_MODEL_1="m1", IMAGE_GEN_API_KEY_1=" , "
    )

    with pytest.raises(CommandError, match="IMAGE_GEN_API_KEY_1"):
        run()

    assert counts() == (0, 0, 0, 0)


def test_an_error_in_a_later_vendor_rolls_back_the_earlier_ones(clean_env):
    set_env(clean_env, **FLUX)
    too_long = "m" * 201
    set_env(
        clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com", IMAGE_GEN_MODEL_1=too_long, IMAGE_GEN_API_KEY_1="k1"
    )

    with pytest.raises(CommandError, match="IMAGE_GEN_MODEL_1"):
        run()

    assert counts() == (0, 0, 0, 0)
    assert not EnvImport.objects.exists()


def test_a_vendor_name_admin_uses_for_another_kind_of_vendor_is_skipped_with_a_warning(clean_env):
    set_env(clean_env, **FLUX)
    set_env(clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com", IMAGE_GEN_MODEL_1="m1", IMAGE_GEN_API_KEY_1="k1")
    Vendor.objects.create(name="image-gen-1", kind="openai_chat", base_url="https://x.example.com")

    out, err = run_apart()

    assert "Vendor 'image-gen-1' is a openai_chat vendor in the database" in err
    assert "IMAGE_GEN_API_BASE_1 configures a chat_image vendor: skipped" in err
    assert Vendor.objects.get(name="image-gen-1").kind == "openai_chat"
    assert not ImageModel.objects.filter(name="m1").exists()
    assert Vendor.objects.get(name="siliconflow").models.count() == 2
    assert "Import done." in out


def test_public_equals_upstream_entries_set_the_upstream_name(clean_env):
    set_env(clean_env, **FLUX)
    clean_env.setenv("FLUX_GEN_MODEL", "flux-dev=black-forest-labs/FLUX.1-dev, flux-pro")

    run()

    assert ImageModel.objects.get(name="flux-dev").sent_name == "black-forest-labs/FLUX.1-dev"
    assert ImageModel.objects.get(name="flux-pro").sent_name == "flux-pro"


def test_dry_run_reports_but_writes_nothing(clean_env):
    set_env(clean_env, **FLUX)

    output = run("--dry-run")

    assert "Dry run" in output and "created" in output
    assert counts() == (0, 0, 0, 0)


def test_no_vendor_variables_means_nothing_to_import(clean_env):
    output = run()

    assert "nothing to import" in output
    assert counts() == (0, 0, 0, 0)


def test_flux_models_without_a_base_are_refused_naming_the_missing_variable(clean_env):
    clean_env.setenv("FLUX_GEN_MODEL", "flux-pro")

    with pytest.raises(CommandError, match="FLUX_GEN_MODEL set but FLUX_GEN_API_BASE is not"):
        run()

    assert counts() == (0, 0, 0, 0)


def test_a_compose_service_name_is_a_valid_base(monkeypatch):
    set_env(
        monkeypatch, FLUX_GEN_API_BASE="http://flux:8000/v1", FLUX_GEN_MODEL="flux-schnell", FLUX_GEN_API_KEY="sk-c-01"
    )
    run()
    assert Vendor.objects.get(name="siliconflow").base_url == "http://flux:8000/v1"


def test_image_gen_kind_n_picks_any_image_kind_and_defaults_to_chat_image(clean_env):
    set_env(
        clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com/v1", IMAGE_GEN_MODEL_1="m1", IMAGE_GEN_API_KEY_1="k1"
    )
    set_env(clean_env, IMAGE_GEN_API_BASE_2="https://fal.example.com", IMAGE_GEN_MODEL_2="m2", IMAGE_GEN_API_KEY_2="k2")
    clean_env.setenv("IMAGE_GEN_KIND_2", "fal")

    run()

    assert dict(Vendor.objects.values_list("name", "kind")) == {"image-gen-1": "chat_image", "image-gen-2": "fal"}


def test_changing_image_gen_kind_n_changes_the_vendors_kind_and_keeps_its_models(clean_env):
    set_env(
        clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com/v1", IMAGE_GEN_MODEL_1="m1", IMAGE_GEN_API_KEY_1="k1"
    )
    run()
    clean_env.setenv("IMAGE_GEN_KIND_1", "openai_images")

    output = run()

    vendor = Vendor.objects.get(name="image-gen-1")
    assert vendor.kind == "openai_images" and "kind updated" in output
    assert list(vendor.models.values_list("name", flat=True)) == ["m1"]
    assert "Everything is unchanged." in run()


@pytest.mark.parametrize("kind", ["openai_chat", "dall-e"])
def test_an_image_gen_kind_n_that_is_not_an_image_kind_stops_the_import(clean_env, kind):
    set_env(
        clean_env, IMAGE_GEN_API_BASE_1="https://one.example.com/v1", IMAGE_GEN_MODEL_1="m1", IMAGE_GEN_API_KEY_1="k1"
    )
    clean_env.setenv("IMAGE_GEN_KIND_1", kind)

    with pytest.raises(CommandError, match="IMAGE_GEN_KIND_1") as caught:
        run()

    assert "openai_images" in str(caught.value)
    assert not Vendor.objects.exists()
