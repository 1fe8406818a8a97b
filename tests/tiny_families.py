"""Tiny random pipelines of every inpainting family's real architecture, for offline tests.

Each builder makes the family's own diffusers components (UNet or transformer, VAE, text encoders, tokenizers) at
toy width, seeded, and saves them with ``save_pretrained`` under the class name the published models use
(text-to-image classes for SD 3, Qwen-Image and FLUX.2 klein), so tests load them exactly as
``--inpaint-model DIR`` does. Tokenizers are built offline: CLIP's real BPE (from open_clip), and byte-level
stand-ins for T5 and Qwen whose calling conventions (special tokens, chat template) match the real ones.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from tiny_inpaint import write_clip_tokenizer_files
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

# Qwen's chat markers, and the vision markers Qwen2.5-VL's config points at.
_QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                 "<think>", "</think>"]
# Enough of Qwen3's chat template for a single user turn with thinking switched off, as FLUX.2 klein sends it.
_QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


@functools.cache  # reading CLIP's 49k merges takes a while; pipelines only save the tokenizer, never change it
def _clip_tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as folder:
        write_clip_tokenizer_files(Path(folder))
        return CLIPTokenizer.from_pretrained(folder, model_max_length=77)


def _clip_text_encoder(tokenizer, with_projection: bool, hidden: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, projection_dim=hidden,
        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def _byte_tokenizer(special: list[str], append_eos: str | None) -> Tokenizer:
    """A byte-level tokenizer: every byte one token, ``special`` tokens first, optionally ``append_eos`` at the end."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(special + sorted(alphabet))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(special)
    if append_eos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {append_eos}", special_tokens=[(append_eos, vocab[append_eos])]
        )
    return tokenizer


def _t5_tokenizer():
    """T5's conventions (a Unigram model, pad 0, eos 1, unk 2, eos appended) over printable ASCII characters;
    see the install notes on T5 offline. transformers rebuilds T5 tokenizers as Unigram, so no byte-level BPE."""
    from transformers import T5TokenizerFast

    pieces = ["<pad>", "</s>", "<unk>", "\u2581"] + [chr(code) for code in range(33, 127)]
    tokenizer = Tokenizer(models.Unigram([(piece, -1.0) for piece in pieces], unk_id=2))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(pieces[:3])
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           extra_ids=0, model_max_length=512)


def _t5_encoder(tokenizer, d_model: int):
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=d_model, d_kv=8, d_ff=2 * d_model,
                                   num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1,
                                   decoder_start_token_id=0))


def _qwen_tokenizer():
    from transformers import Qwen2TokenizerFast

    tokenizer = Qwen2TokenizerFast(tokenizer_object=_byte_tokenizer(_QWEN_SPECIAL, append_eos=None),
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
                                   model_max_length=131072)
    tokenizer.chat_template = _QWEN_CHAT_TEMPLATE
    return tokenizer


def _kl_vae(latent_channels: int, blocks: int, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8,) * blocks, in_channels=3, out_channels=3, latent_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * blocks, up_block_types=("UpDecoderBlock2D",) * blocks,
        # no attention in the mid block: at the toy VAE's scale it attends over every pixel and dominates the run
        layers_per_block=1, norm_num_groups=8, mid_block_add_attention=False, **extra,
    )


def _sdxl():
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLInpaintPipeline,
        UNet2DConditionModel,
    )

    tokenizer = _clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=9, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        # 6 time ids x 8 + the second text encoder's pooled 32 (no aesthetic score: SDXL inpainting 0.1 has none)
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64, norm_num_groups=32,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return StableDiffusionXLInpaintPipeline(
        vae=_kl_vae(4, 2), text_encoder=_clip_text_encoder(tokenizer, False),
        text_encoder_2=_clip_text_encoder(tokenizer, True), tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet,
        scheduler=scheduler, requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
    )


def _sd3():
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )

    clip = _clip_tokenizer()
    t5 = _t5_tokenizer()
    # Two CLIPs of width 32 give 64-wide prompt embeddings, padded to T5's width, which is the joint width.
    # The inpainting pipeline accepts SD 3's 16 latent channels (or 33 for inpainting-trained transformers) only.
    transformer = SD3Transformer2DModel(
        sample_size=32, patch_size=1, in_channels=16, out_channels=16, num_layers=1, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=64, caption_projection_dim=32, pooled_projection_dim=64,
        pos_embed_max_size=96,
    )
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_kl_vae(16, 2, shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=_clip_text_encoder(clip, True), tokenizer=clip,
        text_encoder_2=_clip_text_encoder(clip, True), tokenizer_2=clip,
        text_encoder_3=_t5_encoder(t5, 64), tokenizer_3=t5,
    )


def _flux_fill():
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        FluxFillPipeline,
        FluxTransformer2DModel,
    )

    clip = _clip_tokenizer()
    t5 = _t5_tokenizer()
    latent = 1
    scale = 1  # one VAE block: latents at pixel resolution
    # Fill's input per packed token: noisy latents, masked-image latents (4 x latent each) and the mask (4 x scale^2).
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4 * latent * 2 + 4 * scale * scale, out_channels=4 * latent, num_layers=1,
        num_single_layers=1, attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
        pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 4, 8),
    )
    return FluxFillPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=_kl_vae(latent, 1, shift_factor=0.1159,
                                                                 scaling_factor=0.3611),
        text_encoder=_clip_text_encoder(clip, False), tokenizer=clip, text_encoder_2=_t5_encoder(t5, 32),
        tokenizer_2=t5, transformer=transformer,
    )


def _qwen_image():
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = _qwen_tokenizer()
    z_dim = 4
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=4 * z_dim, out_channels=z_dim, num_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
    )
    vae = AutoencoderKLQwenImage(base_dim=8, z_dim=z_dim, dim_mult=[1, 2], num_res_blocks=1,
                                 temperal_downsample=[False], latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 2, "vocab_size": len(tokenizer), "rope_theta": 1000000.0,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tokenizer), vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"), vision_token_id=ids("<|image_pad|>"),
        image_token_id=ids("<|image_pad|>"),
    )
    return QwenImagePipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=Qwen2_5_VLForConditionalGeneration(config),
        tokenizer=tokenizer, transformer=transformer,
    )


def _flux2_klein(distilled: bool = True):
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer()
    # The pipeline stacks the text encoder's hidden states 9, 18 and 27, so the encoder needs 28 layers (narrow).
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        hidden_size=16, intermediate_size=16, num_hidden_layers=28, num_attention_heads=2, num_key_value_heads=2,
        head_dim=8, vocab_size=len(tokenizer), max_position_embeddings=1024,
    ))
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=3 * 16, timestep_guidance_channels=256, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False,
    )
    vae = AutoencoderKLFlux2(
        sample_size=32, down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
        block_out_channels=(8,), layers_per_block=1, latent_channels=1, norm_num_groups=1, use_quant_conv=False,
        use_post_quant_conv=False, mid_block_add_attention=False,
    )
    return Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                              tokenizer=tokenizer, transformer=transformer, is_distilled=distilled)


BUILDERS: dict[str, Callable] = {
    "sdxl": _sdxl,
    "sd3": _sd3,
    "flux-fill": _flux_fill,
    "qwen-image": _qwen_image,
    "flux2-klein": _flux2_klein,
}


def build_tiny_family_pipeline(family: str, directory: str | Path) -> str:
    """Build the tiny random pipeline of ``family``, save it into ``directory`` and return that path.

    Weights are seeded, so every build is identical; the global torch RNG is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        pipeline = BUILDERS[family]()
    pipeline.save_pretrained(directory)
    return str(directory)
