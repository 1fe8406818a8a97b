"""Text classifier: one unit-length embedding per class name, averaged over the 80 ImageNet templates.

Two speed-ups over encoding every prompt at CLIP's full 77-token context, neither of which changes
the result:

* CLIP's text transformer is causal and pools at the end-of-text token, so tokens after it never
  influence the pooled feature. Prompts are grouped by their real token length and each group is
  run at exactly that length.
* Embeddings are cached per name, in memory and on disk, keyed by the weights, precision and
  templates. A vocabulary that shares names with an earlier run (the 26 background names, say)
  only encodes the new ones.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

TEMPLATES: tuple[str, ...] = tuple(template("{}") for template in OPENAI_IMAGENET_TEMPLATES)
CACHE_FORMAT_VERSION = 1
PROMPTS_PER_BATCH = 256


def tokenize(texts: Sequence[str], context_length: int) -> torch.Tensor:
    """open_clip's tokens at ``context_length``, longer texts cut."""
    return tokenize_counted(texts, context_length)[0]


def tokenize_counted(texts: Sequence[str], context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """open_clip's tokens at ``context_length``, and which texts did not fit and were cut.

    Tokenizing one position longer shows the cut; dropping that position and ending cut rows with
    end-of-text (the token in the extra position of exactly those rows) is open_clip's own truncation.
    """
    longer = open_clip.tokenize(list(texts), context_length=context_length + 1)
    cut = _real_length(longer) > context_length
    tokens = longer[:, :context_length].clone()
    tokens[cut, -1] = longer[cut, -1]
    return tokens, cut


@torch.inference_mode()
def encode_tokens(clip_model: open_clip.model.CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """Pooled text features for tokens of any length <= the context length. (B, L) -> (B, E).

    Mirrors open_clip's ``CLIP.encode_text`` but slices the positional embedding and causal mask to
    L, which that method does not allow.
    """
    length = tokens.shape[1]
    cast_dtype = clip_model.transformer.get_cast_dtype()
    x = clip_model.token_embedding(tokens).to(cast_dtype)  # (B, L, D)
    x = x + clip_model.positional_embedding[:length].to(cast_dtype)
    x = clip_model.transformer(x, attn_mask=clip_model.attn_mask[:length, :length])
    x = clip_model.ln_final(x)
    x = text_global_pool(x, tokens, clip_model.text_pool_type)  # (B, D)
    projection = clip_model.text_projection
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def _real_length(tokens: torch.Tensor) -> torch.Tensor:
    """Index of the end-of-text token + 1 (it has the largest id in CLIP's vocabulary)."""
    return tokens.argmax(dim=-1) + 1


class TextClassifier:
    """Builds and caches the (num_names, E) classifier for a CLIP model.

    ``cache_dir=None`` keeps embeddings in memory only.
    """

    def __init__(
        self,
        clip_model: open_clip.model.CLIP,
        weights_id: str,
        cache_dir: str | os.PathLike | None = None,
        templates: Sequence[str] = TEMPLATES,
        progress: bool = True,
    ):
        self.model = clip_model
        self.templates = tuple(templates)
        self.progress = progress
        self.device = clip_model.token_embedding.weight.device
        dtype = clip_model.token_embedding.weight.dtype
        key = json.dumps([CACHE_FORMAT_VERSION, weights_id, str(dtype), self.templates])
        self._disk = Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:24] if cache_dir else None
        self._memory: dict[str, torch.Tensor] = {}
        self.cut_names: set[str] = set()  # names with a template prompt longer than the context, warned once
        self.stats = {"memory_hits": 0, "disk_hits": 0, "encoded": 0}

    def __call__(self, names: Sequence[str]) -> torch.Tensor:
        """(len(names), E) float32 unit vectors on the model's device, in the order given."""
        missing = [name for name in dict.fromkeys(names) if name not in self._memory]
        self.stats["memory_hits"] += len(set(names)) - len(missing)
        to_encode = []
        for name in missing:
            cached = self._load(name)
            if cached is None:
                to_encode.append(name)
            else:
                self._memory[name], cut = cached
                self._note_cut(name, cut)
                self.stats["disk_hits"] += 1
        if to_encode:
            embeddings, cut = self._encode_names(to_encode)
            for name, embedding, name_cut in zip(to_encode, embeddings, cut.tolist()):
                self._memory[name] = embedding
                self._note_cut(name, name_cut)
                self._store(name, embedding, name_cut)
            self.stats["encoded"] += len(to_encode)
        return torch.stack([self._memory[name] for name in names])

    def _note_cut(self, name: str, cut: bool) -> None:
        if cut and name not in self.cut_names:
            self.cut_names.add(name)
            logger.warning("prompt '%s' is longer than CLIP's %d text tokens; the words beyond are ignored",
                           name, self.model.context_length)

    def _encode_names(self, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(len(names), E) embeddings, and (len(names),) bool: some template prompt of the name was cut."""
        prompts = [template.format(name) for name in names for template in self.templates]
        tokens, cut = tokenize_counted(prompts, self.model.context_length)
        lengths = _real_length(tokens)
        features = torch.empty(len(prompts), self.model.text_projection.shape[-1], device=self.device)
        by_length: dict[int, list[int]] = defaultdict(list)
        for index, length in enumerate(lengths.tolist()):
            by_length[length].append(index)
        batches = [
            (length, indices[start : start + PROMPTS_PER_BATCH])
            for length, indices in sorted(by_length.items())
            for start in range(0, len(indices), PROMPTS_PER_BATCH)
        ]
        bar = tqdm(total=len(prompts), desc="text prompts", unit="prompt", disable=not self.progress, leave=False)
        for length, indices in batches:
            batch = tokens[indices, :length].to(self.device)
            features[indices] = encode_tokens(self.model, batch).float()
            bar.update(len(indices))
        bar.close()
        per_prompt = F.normalize(features, dim=-1).view(len(names), len(self.templates), -1)
        return F.normalize(per_prompt.mean(dim=1), dim=-1), cut.view(len(names), len(self.templates)).any(dim=1)

    def _path(self, name: str) -> Path | None:
        if self._disk is None:
            return None
        return self._disk / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.npz"

    def _load(self, name: str) -> tuple[torch.Tensor, bool] | None:
        path = self._path(name)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                stored_name = str(data["name"])
                embedding = data["embedding"]
                # entries written before the cut was recorded lack it; they were not warned about either
                cut = bool(data["cut"]) if "cut" in data else False
            ok = (
                stored_name == name
                and embedding.ndim == 1
                and embedding.shape[0] == self.model.text_projection.shape[-1]
                and np.isfinite(embedding).all()
                and abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-3
            )
        except Exception as exc:  # any unreadable file is recomputed, never trusted
            logger.warning("ignoring unreadable text-cache entry %s (%s)", path, type(exc).__name__)
            return None
        if not ok:
            logger.warning("ignoring mismatched text-cache entry %s", path)
            return None
        return torch.from_numpy(embedding.astype(np.float32)).to(self.device), cut

    def _store(self, name: str, embedding: torch.Tensor, cut: bool) -> None:
        path = self._path(name)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            with open(temporary, "wb") as handle:
                np.savez(handle, name=np.array(name), embedding=embedding.cpu().numpy(), cut=np.array(cut))
            os.replace(temporary, path)
        except OSError as exc:  # a read-only cache slows later runs down but must not fail this one
            logger.warning("could not write text cache %s (%s)", path, exc)
