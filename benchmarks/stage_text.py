"""Text classifier: cold encode with length truncation vs CLIP's full 77-token context, and the warm disk cache.

Encoding all 4480 VOC21 prompts at the full context takes minutes on a CPU. Every full-context batch has the
same shape (256 prompts x 77 tokens), so its cost is exactly proportional to the number of prompts: by default
the baseline encodes a sample of whole names and is scaled up to all prompts (``--text-baseline-names``; the
result comparison covers the sampled names). The truncated side always encodes everything.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence

import open_clip
import torch
import torch.nn.functional as F

import sclip
from sclip.text import PROMPTS_PER_BATCH, TEMPLATES, TextClassifier, tokenize

from .context import BenchContext, StageResult, Target

logger = logging.getLogger(__name__)

PRESET = "voc21"
TARGETS = (
    Target("text_speedup_truncation", 3.0, at_least=True),
    Target("text_max_abs_diff", 1e-5, at_least=False),
    Target("text_warm_seconds", 0.1, at_least=False),
)


def encode_full_context(
    model: open_clip.model.CLIP, names: Sequence[str], templates: Sequence[str], batch_size: int
) -> torch.Tensor:
    """The textbook zero-shot classifier: every prompt through ``encode_text`` at the full context, in batches."""
    prompts = [template.format(name) for name in names for template in templates]
    tokens = tokenize(prompts, model.context_length).to(model.token_embedding.weight.device)
    batches = tokens.split(batch_size)
    features = torch.cat([model.encode_text(batch).float() for batch in batches])
    per_prompt = F.normalize(features, dim=-1).view(len(names), len(templates), -1)
    return F.normalize(per_prompt.mean(dim=1), dim=-1)


def baseline_sample(names: Sequence[str], count: int) -> list[int]:
    """Indices of ``count`` names spread evenly over the list (prompt lengths vary along it); all if count >= len."""
    if count >= len(names):
        return list(range(len(names)))
    return [round(i * (len(names) - 1) / (count - 1)) for i in range(count)] if count > 1 else [0]


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("text")
    clip = ctx.clip()
    names = sclip.load_preset(PRESET).vocabulary.names
    tokens = tokenize([template.format(name) for name in names for template in TEMPLATES], clip.model.context_length)
    sample = baseline_sample(names, ctx.text_baseline_names)
    sampled_names = [names[i] for i in sample]

    def classifier(cache_dir=None) -> TextClassifier:
        return TextClassifier(clip.model, clip.weights_id, cache_dir=cache_dir, progress=False)

    def write_cache() -> torch.Tensor:
        shutil.rmtree(ctx.text_cache_dir, ignore_errors=True)  # every run starts from an empty cache
        return classifier(ctx.text_cache_dir)(names)

    logger.info("text: %d names x %d templates, writing the disk cache", len(names), len(TEMPLATES))
    # Timed on its own, this first encode also takes the first-call costs out of the comparison below.
    writing = ctx.time({"cold_writing_cache": write_cache}, warmup=False)
    stage.add(writing, ctx.precision)

    logger.info("text: cold, truncated (%d names) vs full context (%d names)", len(names), len(sample))
    # Both sides run in batches of the classifier's size; only the context length differs.
    cold = ctx.time(
        {
            "cold_truncated": lambda: classifier()(names),
            "cold_full_context": lambda: encode_full_context(clip.model, sampled_names, TEMPLATES, PROMPTS_PER_BATCH),
        },
        warmup=False,
    )
    stage.add(cold, ctx.precision)

    readers: list[TextClassifier] = []

    def warm() -> torch.Tensor:
        readers.append(classifier(ctx.text_cache_dir))  # a fresh object: nothing in memory, all from disk
        return readers[-1](names)

    warm_timing = ctx.time({"warm_disk_cache": warm})
    stage.add(warm_timing, ctx.precision)

    truncated = cold["cold_truncated"].result
    full_seconds = cold["cold_full_context"].median * len(names) / len(sample)
    stage.metrics.update(
        {
            "preset": PRESET,
            "names": len(names),
            "templates": len(TEMPLATES),
            "prompts": len(tokens),
            # CLIP's end-of-text token has the largest id: its position + 1 is a prompt's real length
            "mean_tokens_per_prompt": float((tokens.argmax(dim=-1) + 1).float().mean()),
            "context_length": clip.model.context_length,
            "full_context_names_timed": len(sample),
            "full_context_seconds_all_prompts": full_seconds,
            "text_speedup_truncation": full_seconds / cold["cold_truncated"].median,
            "text_max_abs_diff": float((truncated[sample] - cold["cold_full_context"].result).abs().max()),
            "text_warm_seconds": warm_timing["warm_disk_cache"].median,
            "text_warm_max_abs_diff": float((warm_timing["warm_disk_cache"].result - truncated).abs().max()),
            "text_warm_disk_hits": readers[-1].stats["disk_hits"],
            "text_warm_encoded": readers[-1].stats["encoded"],
        }
    )
    if len(sample) < len(names):
        stage.notes.append(
            f"text: full-context baseline timed on {len(sample)} of {len(names)} names (its row in the table) and "
            f"scaled to all {len(tokens)} prompts (fixed-shape batches: cost is proportional); "
            f"--text-baseline-names {len(names)} times them all"
        )
    stage.targets.extend(TARGETS)
    return stage
