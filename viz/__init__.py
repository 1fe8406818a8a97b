"""Pictures for humans: mask overlays, colour-coded label maps, comparison strips, heatmaps.

Everything takes and returns (H, W, 3) uint8 RGB numpy arrays (``labels_to_palette_image`` and
``label_map_image`` return PIL images); nothing here writes files or knows about models.
"""
from .colors import colorize_labels, label_map_image, labels_to_palette_image, palette
from .layout import comparison_strip
from .legend import LegendEntry, label_map_with_legend, legend_entries
from .overlays import heatmap, instance_overlay, overlay_mask

__all__ = [
    "LegendEntry",
    "colorize_labels",
    "comparison_strip",
    "heatmap",
    "instance_overlay",
    "label_map_image",
    "label_map_with_legend",
    "labels_to_palette_image",
    "legend_entries",
    "overlay_mask",
    "palette",
]

