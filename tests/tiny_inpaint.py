"""A tiny random Stable-Diffusion-style inpainting pipeline for offline tests.

The pipeline uses the real architectures (9-channel UNet, KL autoencoder, CLIP text encoder with the real CLIP
BPE vocabulary) at toy width, and is written with ``save_pretrained`` so tests load it through exactly the code
path users take: ``DiffusionInpainter(model=directory)``. Its weights are random, so its pictures are noise.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# CLIP's vocabulary: 256 byte symbols, the same with the end-of-word marker, 48894 merges, 2 special tokens.
_CLIP_MERGES = 49152 - 256 - 2
_CLIP_VOCAB_SIZE = 2 * 256 + _CLIP_MERGES + 2


def write_clip_tokenizer_files(folder: Path) -> None:
    """Write ``vocab.json`` and ``merges.txt`` for CLIP's BPE from the copy that open_clip ships.

    transformers 5 builds a 2-token tokenizer without complaint when given file paths to its constructor, so the
    files are written to a folder and loaded with ``CLIPTokenizer.from_pretrained(folder)`` instead.
    """
    with gzip.open(default_bpe(), "rt", encoding="utf-8") as bpe_file:
        lines = bpe_file.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 1 + _CLIP_MERGES]]  # line 0 is a version header
    byte_symbols = list(bytes_to_unicode().values())
    tokens = byte_symbols + [symbol + "</w>" for symbol in byte_symbols]
    tokens += ["".join(pair) for pair in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair in merges) + "\n")


def build_tiny_inpaint_pipeline(directory: str | Path) -> str:
    """Build a tiny random inpainting pipeline, save it into ``directory`` and return that path as a string.

    Model resolution is 64 px: UNet sample size 32 latent pixels times a VAE scale factor of 2. Weights are
    seeded, so every build is identical; the global torch RNG is left as it was.
    """
    with tempfile.TemporaryDirectory() as tokenizer_folder:
        write_clip_tokenizer_files(Path(tokenizer_folder))
        # Pipelines pad and truncate prompts to model_max_length; CLIP's context is 77 tokens.
        tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder, model_max_length=77)
    if tokenizer.vocab_size != _CLIP_VOCAB_SIZE:
        raise RuntimeError(f"CLIP tokenizer came out with {tokenizer.vocab_size} tokens, expected {_CLIP_VOCAB_SIZE}")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=9,  # noisy latents 4 + masked-image latents 4 + mask 1
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(32, 64),
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            norm_num_groups=32,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=_CLIP_VOCAB_SIZE,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=tokenizer.model_max_length,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(directory)
    # transformers 4.x loads the slow CLIPTokenizer, which needs these files rather than tokenizer.json.
    write_clip_tokenizer_files(Path(directory) / "tokenizer")
    return str(directory)
