"""A tiny random SAM 3 (model and processor) for offline tests.

Every module of the real architecture is there with hidden size 32 and one layer, at a 224-pixel input instead of
1008; the text encoder keeps CLIP's 49408-token vocabulary so the real CLIP BPE tokenizer's ids fit. It is written
with ``save_pretrained`` so tests load it the way users load a local folder. Its weights are random, so its masks
are noise; scores come out near 0.25 (sigmoid(0) for the query times sigmoid(0) for the presence).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from transformers import CLIPTokenizer, Sam3Config, Sam3ImageProcessor, Sam3Model, Sam3Processor

from tiny_inpaint import write_clip_tokenizer_files

IMAGE_SIZE = 224  # 16 x 16 patches of 14 pixels
_PATCHES = IMAGE_SIZE // 14
_HIDDEN = 32
_BLOCK = {"hidden_size": _HIDDEN, "num_attention_heads": 2, "intermediate_size": 64}


def tiny_sam3_config(num_queries: int = 20) -> Sam3Config:
    return Sam3Config(
        vision_config={
            "backbone_config": {
                "model_type": "sam3_vit_model",
                **_BLOCK,
                "num_hidden_layers": 1,
                "image_size": IMAGE_SIZE,
                "pretrain_image_size": IMAGE_SIZE,
                "window_size": 8,
                "global_attn_indexes": [0],
            },
            "fpn_hidden_size": _HIDDEN,
            # the neck's x4, x2 and x1 levels of the 16 x 16 patch grid
            "backbone_feature_sizes": [[4 * _PATCHES] * 2, [2 * _PATCHES] * 2, [_PATCHES] * 2],
        },
        text_config={
            **_BLOCK,
            "vocab_size": 49408,
            "projection_dim": _HIDDEN,
            "num_hidden_layers": 1,
            "max_position_embeddings": 32,  # Sam3Processor pads every phrase to 32 tokens
        },
        geometry_encoder_config={**_BLOCK, "num_layers": 1},
        detr_encoder_config={**_BLOCK, "num_layers": 1},
        detr_decoder_config={**_BLOCK, "num_layers": 1, "num_queries": num_queries},
        mask_decoder_config={"hidden_size": _HIDDEN, "num_attention_heads": 2},
    )


def build_tiny_sam3(directory: str | Path, seed: int = 0) -> str:
    """Save a tiny random Sam3Model and its Sam3Processor into ``directory``; return the path as a string.

    Weights are seeded, so every build is identical; the global torch RNG is left as it was.
    """
    with tempfile.TemporaryDirectory() as tokenizer_folder:
        write_clip_tokenizer_files(Path(tokenizer_folder))
        tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
    if tokenizer.vocab_size != 49408:
        raise RuntimeError(f"CLIP tokenizer came out with {tokenizer.vocab_size} tokens, expected 49408")
    image_processor = Sam3ImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        mask_size={"height": 4 * _PATCHES, "width": 4 * _PATCHES},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Sam3Model(tiny_sam3_config()).eval()
    model.save_pretrained(directory)
    Sam3Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return str(directory)
