"""Stage 3: Stable Diffusion 2 inpainting, timed network by network and extrapolated to a whole edit.

One guided denoising step of the real UNet at 512x512 takes tens of seconds on a CPU, so the stage times
each network call once (repeating only what is cheap) and reports an edit as
text encoder + VAE encode + steps x guided UNet step + VAE decode, the calls a diffusers inpainting
pipeline makes for a 9-channel UNet.
"""
from __future__ import annotations

import logging

import open_clip
import torch

from inpaint import DEFAULT_STRENGTH, InpaintSettings

from .context import BenchContext, StageResult, Target
from .models import build_sd2_inpainting, photo

logger = logging.getLogger(__name__)

# An SD2 edit of 50 steps at 512x512 in fp16 on an H100-class GPU, extrapolated as below.
GPU_TARGET = Target("inpaint_50_steps_seconds", 1.5, at_least=False)
GPU_TARGET_STEPS = 50
PROMPTS = ("a grassy meadow", "")  # prompt and (empty) negative prompt: classifier-free guidance runs both


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("inpaint")
    logger.info("inpaint: building SD2-inpainting networks with random weights")
    models = build_sd2_inpainting(ctx.device, ctx.dtype, ctx.seed)
    side = models.resolution
    latent_side = models.unet.config.sample_size
    guided = len(PROMPTS)

    tokens = open_clip.tokenize(list(PROMPTS)).to(ctx.device)  # SD2's tokenizer is CLIP's BPE at 77 tokens
    image = torch.from_numpy(photo("astronaut", side, side)).permute(2, 0, 1)[None].to(ctx.device)
    pixels = (image.to(ctx.dtype) / 127.5 - 1).contiguous()
    with torch.inference_mode():
        context = models.text_encoder(tokens).last_hidden_state
    latents = torch.randn(
        guided, models.unet.config.in_channels, latent_side, latent_side, device=ctx.device, dtype=ctx.dtype
    )
    timestep = torch.full((guided,), 500, device=ctx.device)

    tasks = {
        "text_encoder": lambda: models.text_encoder(tokens).last_hidden_state,
        "vae_encode": lambda: models.vae.encode(pixels).latent_dist.mode(),
        "unet_guided_step": lambda: models.unet(latents, timestep, encoder_hidden_states=context).sample,
        "vae_decode": lambda: models.vae.decode(latents[:1, : models.vae.config.latent_channels]).sample,
    }
    logger.info("inpaint: %s at %dx%d", ", ".join(tasks), side, side)
    # Warm-up doubles the cost of calls that take tens of seconds on a CPU; on GPUs it is cheap and needed.
    timings = ctx.time(tasks, warmup=ctx.device.type != "cpu")
    stage.add(timings, ctx.precision)

    steps = int(InpaintSettings().steps * DEFAULT_STRENGTH["remove"])
    once = sum(timings[name].median for name in ("text_encoder", "vae_encode", "vae_decode"))
    step = timings["unet_guided_step"].median
    stage.metrics.update(
        {
            "model": "stable-diffusion-2-inpainting architecture (random weights)",
            "resolution": side,
            "guidance_batch": guided,
            "inpaint_unet_step_seconds": step,
            "inpaint_steps_extrapolated": steps,
            "inpaint_extrapolated_edit_seconds": once + steps * step,
            "inpaint_extrapolation": "text_encoder + vae_encode + steps x unet_guided_step + vae_decode",
            "inpaint_50_steps_seconds": once + GPU_TARGET_STEPS * step,
        }
    )
    if ctx.device.type == "cuda":
        stage.targets.append(GPU_TARGET)
    stage.notes.append(
        f"inpaint: per-network times at {side}x{side}; a {steps}-step edit (the default steps at remove's "
        f"strength) is EXTRAPOLATED as {once:.1f} s + {steps} x {step:.1f} s = {once + steps * step:.0f} s"
    )
    return stage
