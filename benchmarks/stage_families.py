"""One denoising step of each diffusion family's denoiser (UNet or transformer) at its native resolution.

Random weights of the released architectures, built directly on the device in the family's precision (bf16 or
fp16, see ``inpaint.families``); one call with the batch the pipeline runs per step (2 where classifier-free
guidance doubles it, 1 for the guidance-distilled FLUX models). Stable Diffusion 2 is timed by the ``inpaint``
stage. On a CPU the same code runs at toy width (an architecture check only, its times mean nothing): full-size
FLUX or Qwen-Image do not fit a CPU's memory in float32. A family that fails is reported and skipped.

Configs: SDXL, SD 3.5 Large and FLUX.1 Fill as released; Qwen-Image as diffusers' own defaults for its
transformer (which are the released model's); FLUX.2 klein 4B as its published transformer config
(5 double + 20 single blocks, 24 heads of 128, text width 3 x 2560), not verified here.
"""
from __future__ import annotations

import contextlib
import gc
import logging

import torch

from inpaint.families import dtype_for, family_named

from .context import BenchContext, StageResult

logger = logging.getLogger(__name__)

TEXT_TOKENS = {"sdxl": 77, "sd3": 77 + 256, "flux-fill": 512, "qwen-image": 256, "flux2-klein": 512}


def _sdxl(full: bool):
    from diffusers import UNet2DConditionModel

    width = (320, 640, 1280) if full else (32, 64, 64)
    config = {
        "sample_size": 128 if full else 16, "in_channels": 9, "out_channels": 4, "block_out_channels": width,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "transformer_layers_per_block": (1, 2, 10) if full else 1, "attention_head_dim": (5, 10, 20) if full else 8,
        "use_linear_projection": True, "addition_embed_type": "text_time", "addition_time_embed_dim": 256 if full else 8,
        "projection_class_embeddings_input_dim": (6 * 256 + 1280) if full else (6 * 8 + 32),
        "cross_attention_dim": 2048 if full else 64, "norm_num_groups": 32,
    }
    model = UNet2DConditionModel(**config)
    side, text_width, pooled = config["sample_size"], config["cross_attention_dim"], 1280 if full else 32

    def inputs(device, dtype):
        return {
            "sample": torch.randn(2, 9, side, side, device=device, dtype=dtype),
            "timestep": torch.full((2,), 500, device=device),
            "encoder_hidden_states": torch.randn(2, TEXT_TOKENS["sdxl"], text_width, device=device, dtype=dtype),
            "added_cond_kwargs": {"text_embeds": torch.randn(2, pooled, device=device, dtype=dtype),
                               "time_ids": torch.randn(2, 6, device=device, dtype=dtype)},
        }

    return model, inputs, side * 8


def _sd3(full: bool):
    from diffusers import SD3Transformer2DModel

    config = {
        "sample_size": 128 if full else 16, "patch_size": 2, "in_channels": 16, "out_channels": 16,
        "num_layers": 38 if full else 2, "attention_head_dim": 64 if full else 8, "num_attention_heads": 38 if full else 2,
        "joint_attention_dim": 4096 if full else 32, "caption_projection_dim": 2432 if full else 16,
        "pooled_projection_dim": 2048 if full else 32, "pos_embed_max_size": 192 if full else 32, "qk_norm": "rms_norm",
    }
    model = SD3Transformer2DModel(**config)
    side = config["sample_size"]

    def inputs(device, dtype):
        return {
            "hidden_states": torch.randn(2, 16, side, side, device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(2, TEXT_TOKENS["sd3"], config["joint_attention_dim"], device=device,
                                              dtype=dtype),
            "pooled_projections": torch.randn(2, config["pooled_projection_dim"], device=device, dtype=dtype),
            "timestep": torch.full((2,), 500.0, device=device),
        }

    return model, inputs, side * 8


def _flux_fill(full: bool):
    from diffusers import FluxTransformer2DModel

    config = {
        "patch_size": 1, "in_channels": 384 if full else 24, "out_channels": 64 if full else 8, "num_layers": 19 if full else 1,
        "num_single_layers": 38 if full else 1, "attention_head_dim": 128 if full else 16,
        "num_attention_heads": 24 if full else 2, "joint_attention_dim": 4096 if full else 32,
        "pooled_projection_dim": 768 if full else 32, "guidance_embeds": True,
        "axes_dims_rope": (16, 56, 56) if full else (4, 4, 8),
    }
    model = FluxTransformer2DModel(**config)
    latent_side = 128 if full else 16  # 1024 px / VAE scale 8
    tokens = (latent_side // 2) ** 2

    def inputs(device, dtype):
        image_ids = torch.zeros(latent_side // 2, latent_side // 2, 3, device=device)
        image_ids[..., 1] = torch.arange(latent_side // 2, device=device)[:, None]
        image_ids[..., 2] = torch.arange(latent_side // 2, device=device)[None, :]
        return {
            "hidden_states": torch.randn(1, tokens, config["in_channels"], device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(1, TEXT_TOKENS["flux-fill"], config["joint_attention_dim"],
                                              device=device, dtype=dtype),
            "pooled_projections": torch.randn(1, config["pooled_projection_dim"], device=device, dtype=dtype),
            "timestep": torch.full((1,), 0.5, device=device, dtype=dtype),
            "guidance": torch.full((1,), 30.0, device=device, dtype=torch.float32),
            "img_ids": image_ids.reshape(-1, 3), "txt_ids": torch.zeros(TEXT_TOKENS["flux-fill"], 3, device=device),
        }

    return model, inputs, latent_side * 8


def _qwen_image(full: bool):
    from diffusers import QwenImageTransformer2DModel

    config = {} if full else {"num_layers": 1, "attention_head_dim": 16, "num_attention_heads": 2,
                                  "joint_attention_dim": 16, "axes_dims_rope": (8, 4, 4)}
    model = QwenImageTransformer2DModel(**config)
    latent_side = 128 if full else 16
    grid = latent_side // 2
    text = TEXT_TOKENS["qwen-image"]

    def inputs(device, dtype):
        return {
            "hidden_states": torch.randn(2, grid * grid, model.config.in_channels, device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(2, text, model.config.joint_attention_dim, device=device, dtype=dtype),
            "encoder_hidden_states_mask": torch.ones(2, text, device=device, dtype=torch.long),
            "timestep": torch.full((2,), 0.5, device=device, dtype=dtype),
            "img_shapes": [[(1, grid, grid)]] * 2,
        }

    return model, inputs, latent_side * 8


def _flux2_klein(full: bool):
    from diffusers import Flux2Transformer2DModel

    config = {
        "patch_size": 1, "in_channels": 128 if full else 4, "num_layers": 5 if full else 1,
        "num_single_layers": 20 if full else 1, "attention_head_dim": 128 if full else 16,
        "num_attention_heads": 24 if full else 2, "joint_attention_dim": 3 * 2560 if full else 48,
        "axes_dims_rope": (32, 32, 32, 32) if full else (4, 4, 4, 4), "guidance_embeds": False,
    }
    model = Flux2Transformer2DModel(**config)
    latent_side = 128 if full else 16
    grid = latent_side // 2
    text = TEXT_TOKENS["flux2-klein"]

    def inputs(device, dtype):
        image_ids = torch.zeros(1, grid * grid, 4, device=device)
        rows, cols = torch.meshgrid(torch.arange(grid, device=device), torch.arange(grid, device=device),
                                    indexing="ij")
        image_ids[0, :, 1], image_ids[0, :, 2] = rows.reshape(-1), cols.reshape(-1)
        return {
            "hidden_states": torch.randn(1, grid * grid, config["in_channels"], device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(1, text, config["joint_attention_dim"], device=device, dtype=dtype),
            "timestep": torch.full((1,), 0.5, device=device, dtype=dtype),
            "img_ids": image_ids, "txt_ids": torch.zeros(1, text, 4, device=device), "guidance": None,
        }

    return model, inputs, latent_side * 8


BUILDERS = {"sdxl": _sdxl, "sd3": _sd3, "flux-fill": _flux_fill, "qwen-image": _qwen_image,
            "flux2-klein": _flux2_klein}


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    # Initialising in the target precision halves peak memory (Qwen-Image's 20B parameters are 80 GB in fp32).
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("families")
    full = ctx.device.type == "cuda"
    if not full:
        stage.notes.append("families: toy widths on the CPU (architecture check only; times mean nothing)")
    for name, build in BUILDERS.items():
        family = family_named(name)
        dtype = dtype_for(family, ctx.device.type)
        try:
            torch.manual_seed(ctx.seed)
            with torch.device(ctx.device), _default_dtype(dtype):
                model, make_inputs, resolution = build(full)
            model = model.eval()
            parameters = sum(parameter.numel() for parameter in model.parameters())
            arguments = make_inputs(ctx.device, dtype)
            precision = str(dtype).removeprefix("torch.")
            logger.info("families: %s (%.2fB parameters, %s) one step at %d px", name, parameters / 1e9, precision,
                        resolution)
            with torch.inference_mode():
                timings = ctx.time({f"{name}_step": lambda model=model, arguments=arguments:
                                    model(**arguments, return_dict=False)[0]})
            stage.add(timings, precision)
            step = timings[f"{name}_step"].median
            stage.metrics[f"{name}_step_seconds"] = step
            stage.metrics[f"{name}_parameters"] = parameters
            stage.metrics[f"{name}_default_steps"] = family.steps
            stage.metrics[f"{name}_steps_x_step_seconds"] = family.steps * step
            stage.notes.append(
                f"families: {family.title} {parameters / 1e9:.1f}B at {resolution} px in {precision}: "
                f"{step * 1000:.0f} ms per step, x {family.steps} default steps = {family.steps * step:.1f} s "
                "(denoiser only)"
            )
        except Exception as error:
            logger.exception("families: %s failed", name)
            stage.notes.append(f"families: {name} FAILED: {type(error).__name__}: {str(error).splitlines()[0]}")
        finally:
            model = arguments = None
            gc.collect()
            if ctx.device.type == "cuda":
                torch.cuda.empty_cache()
    return stage
