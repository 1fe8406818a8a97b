"""The tiny test pipeline must be a faithful miniature, or the other tests prove little."""

import json
from pathlib import Path

import open_clip
from transformers import CLIPTokenizer


def test_tiny_tokenizer_matches_open_clip_token_for_token(tiny_inpaint_model):
    tokenizer = CLIPTokenizer.from_pretrained(Path(tiny_inpaint_model) / "tokenizer")
    text = "a red vintage bus, Rayo McQueen's lightning bolt!"
    ids = tokenizer(text, padding="max_length", max_length=77).input_ids
    reference = open_clip.tokenize([text])[0].tolist()
    real_length = reference.index(tokenizer.eos_token_id) + 1
    assert ids[:real_length] == reference[:real_length]
    assert tokenizer.vocab_size == 49408 and tokenizer.model_max_length == 77


def test_tiny_pipeline_is_a_9_channel_inpainting_unet_at_64_px(tiny_inpaint_model, tiny_inpainter):
    index = json.loads((Path(tiny_inpaint_model) / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionInpaintPipeline"
    assert tiny_inpainter.pipeline.unet.config.in_channels == 9
    assert tiny_inpainter.resolution == 64
