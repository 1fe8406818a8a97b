"""Every inpainting family: a tiny random pipeline of its real architecture, saved with save_pretrained and loaded
the way ``--inpaint-model DIR`` loads it, edits remove/replace/style end to end on the CPU."""

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_families import build_tiny_family_pipeline

import inpaint.families
from inpaint import (
    FAMILIES,
    InpainterOptions,
    InpaintSettings,
    SettingsError,
    UnsupportedModelError,
    build_inpainter,
    feather_mask,
    resolve_family,
)
from inpaint.diffusion import _native_resolution
from inpaint.families import dtype_for, family_named, family_of_index


# Tiny models are latency-bound: on a shared 2-core machine, thread hand-offs cost more than the maths.
@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# family -> (class name the published models are saved under, inpainting pipeline that runs them)
SAVED_AS = {
    "sd": ("StableDiffusionInpaintPipeline", "StableDiffusionInpaintPipeline"),
    "sdxl": ("StableDiffusionXLInpaintPipeline", "StableDiffusionXLInpaintPipeline"),
    "sd3": ("StableDiffusion3Pipeline", "StableDiffusion3InpaintPipeline"),
    "flux-fill": ("FluxFillPipeline", "FluxFillPipeline"),
    "qwen-image": ("QwenImagePipeline", "QwenImageInpaintPipeline"),
    "flux2-klein": ("Flux2KleinPipeline", "Flux2KleinInpaintPipeline"),
}
# A small working resolution keeps the transformer families' token count (and the tests) small.
RESOLUTION = 32


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory, tiny_inpaint_model):
    """family -> its tiny pipeline folder, each built on first use."""
    built = {"sd": tiny_inpaint_model}

    def get(family):
        if family not in built:
            built[family] = build_tiny_family_pipeline(family, tmp_path_factory.mktemp(family))
        return built[family]

    return get


@pytest.fixture(scope="session")
def family_inpainters(family_dirs):
    loaded = {}

    def get(family):
        if family not in loaded:
            options = InpainterOptions(model=family_dirs(family))
            loaded[family] = build_inpainter(options, progress=False, resolution=RESOLUTION)
        return loaded[family]

    return get


def _image_and_mask():
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    mask = np.zeros((48, 80), bool)
    mask[12:30, 24:44] = True
    return image, mask


@pytest.mark.parametrize("family", SAVED_AS)
def test_each_family_removes_replaces_and_restyles_only_the_region(family, family_dirs, family_inpainters):
    saved_as, runs_as = SAVED_AS[family]
    index = json.loads((Path(family_dirs(family)) / "model_index.json").read_text())
    assert index["_class_name"] == saved_as
    inpainter = family_inpainters(family)
    expected = family_named(family)
    assert (inpainter.family, inpainter.pipeline_class) == (expected, runs_as)
    assert inpainter.describe() == {"inpainter": "diffusion", "inpaint_model": family_dirs(family),
                                    "inpaint_family": family, "inpaint_pipeline": runs_as, "inpaint_dtype": "float32"}
    image, mask = _image_and_mask()
    outside = feather_mask(mask, 5, 8) == 0
    # One denoising step where it suffices; style (strength 0.6) and SDXL (0.99) need two for int(steps * strength).
    full_repaint_steps = 1 if expected.max_strength == 1.0 else 2
    for mode, edit, steps in (("remove", None, full_repaint_steps), ("replace", "a red bus", full_repaint_steps),
                              ("style", "oil painting", 2)):
        result = inpainter.edit(image, mask, mode, "car", edit, InpaintSettings(steps=steps, seed=1))
        assert result.image.shape == image.shape
        assert np.array_equal(result.image[outside], image[outside]), mode
        assert np.any(result.image[mask] != image[mask]), mode
        assert (result.family, result.pipeline, result.inpainter) == (family, runs_as, "diffusion")
        assert result.guidance == expected.guidance and result.steps == steps
        # Negative prompts are recorded only where the pipeline takes them.
        assert (result.negative_prompt is not None) == expected.negative_prompt


# (family, the pipeline argument guidance must reach, whether a negative prompt is passed)
CALLS = [(family.name, family.guidance_keyword, family.negative_prompt) for family in FAMILIES
         if family.name in SAVED_AS]


@pytest.mark.parametrize("family, guidance_keyword, negative", CALLS)
def test_family_defaults_and_arguments_reach_the_pipeline(family, guidance_keyword, negative, family_inpainters,
                                                           monkeypatch):
    inpainter = family_inpainters(family)
    calls = []

    def record(pipeline, **arguments):
        calls.append(arguments)
        return types.SimpleNamespace(images=[np.zeros((arguments["height"], arguments["width"], 3), np.float32)])

    monkeypatch.setattr(type(inpainter.pipeline), "__call__", record)
    image, mask = _image_and_mask()
    result = inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0))
    (arguments,) = calls
    expected = family_named(family)
    assert arguments["num_inference_steps"] == expected.steps == result.steps
    assert arguments[guidance_keyword] == expected.guidance == result.guidance
    assert ("negative_prompt" in arguments) == negative
    if negative:
        assert "car" in arguments["negative_prompt"]
    assert arguments["strength"] == min(1.0, expected.max_strength) == result.strength
    multiple = max(8, inpainter.pipeline.vae_scale_factor * expected.patch)
    assert arguments["height"] % multiple == 0 and arguments["width"] % multiple == 0


def test_flux_fill_guidance_is_the_distilled_scale():
    flux, sd = family_named("flux-fill"), family_named("sd")
    assert flux.guidance == 30.0 and sd.guidance == 7.5 and not flux.negative_prompt


def test_native_resolution_is_sample_size_times_the_vae_scale(family_inpainters):
    # FLUX pipelines fix a 128-latent default; SD 3 reads its transformer's sample size (32 here, VAE scale 2).
    assert _native_resolution(family_inpainters("flux-fill").pipeline) == 128
    assert _native_resolution(family_inpainters("sd3").pipeline) == 64


@pytest.mark.parametrize(
    "index, family",
    [
        ({"_class_name": "StableDiffusionPipeline"}, "sd"),
        ({"_class_name": "StableDiffusionXLPipeline"}, "sdxl"),
        ({"_class_name": "StableDiffusion3Pipeline"}, "sd3"),
        ({"_class_name": "FluxFillPipeline"}, "flux-fill"),
        ({"_class_name": "QwenImagePipeline"}, "qwen-image"),
        ({"_class_name": "Flux2KleinPipeline", "is_distilled": True}, "flux2-klein"),
        ({"_class_name": "Flux2KleinPipeline", "is_distilled": False}, "flux2-klein-base"),
        ({"_class_name": "Flux2KleinPipeline"}, "flux2-klein-base"),
    ],
)
def test_the_model_index_decides_the_family(index, family):
    assert family_of_index("some/model", index).name == family


@pytest.mark.parametrize("class_name", ["KandinskyV22Pipeline", "FluxPipeline", None])
def test_an_unknown_family_is_one_line_naming_the_supported_ones(tmp_path, class_name):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": class_name} if class_name else {}))
    with pytest.raises(UnsupportedModelError) as error:
        resolve_family(str(tmp_path))
    message = str(error.value)
    assert "\n" not in message and "--" not in message and error.value.exit_code == 1
    for title in ("Stable Diffusion 1.x / 2.x", "Stable Diffusion XL", "FLUX.1 Fill", "Qwen-Image", "FLUX.2 klein"):
        assert title in message
    with pytest.raises(UnsupportedModelError):
        build_inpainter(InpainterOptions(model=str(tmp_path)), progress=False)


def test_a_family_the_installed_diffusers_lacks_says_to_upgrade(monkeypatch):
    monkeypatch.setattr(inpaint.families.Family, "supported", lambda family: family.name != "flux-fill")
    with pytest.raises(UnsupportedModelError, match="upgrade diffusers") as error:
        family_of_index("black-forest-labs/FLUX.1-Fill-dev", {"_class_name": "FluxFillPipeline"})
    assert "\n" not in str(error.value)


def test_every_family_in_the_table_has_its_pipeline_in_the_installed_diffusers():
    assert [family.name for family in FAMILIES if not family.supported()] == []


@pytest.mark.parametrize(
    "family, device, bf16, expected",
    [
        ("sd", "cpu", True, torch.float32),
        ("flux-fill", "cpu", True, torch.float32),
        ("sd", "cuda", True, torch.float16),
        ("flux-fill", "cuda", True, torch.bfloat16),
        ("qwen-image", "cuda", False, torch.float32),  # no bf16 on the card: fp16 would overflow, so fp32
        ("sd3", "mps", False, torch.bfloat16),
    ],
)
def test_the_family_chooses_the_precision_unless_the_caller_does(family, device, bf16, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert dtype_for(family_named(family), device) == expected
    assert dtype_for(family_named(family), device, torch.float32) == torch.float32


def test_float16_on_the_cpu_is_refused_in_one_line():
    with pytest.raises(SettingsError) as error:
        dtype_for(family_named("sd"), "cpu", torch.float16)
    assert error.value.setting == "dtype" and "\n" not in str(error.value)


def test_a_hub_id_in_the_standard_cache_loads_offline(tiny_inpaint_model, tmp_path, monkeypatch):
    # The hub's cache layout after a first download: refs/main names the snapshot holding the pipeline's files.
    import huggingface_hub.constants

    repository = tmp_path / "models--someone--tiny-inpainting"
    (repository / "refs").mkdir(parents=True)
    (repository / "refs" / "main").write_text("1" * 40)
    snapshot = repository / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True)
    for entry in Path(tiny_inpaint_model).iterdir():
        (snapshot / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert resolve_family("someone/tiny-inpainting").name == "sd"
    inpainter = build_inpainter(InpainterOptions(model="someone/tiny-inpainting"), progress=False)
    assert inpainter.describe()["inpaint_pipeline"] == "StableDiffusionInpaintPipeline"
