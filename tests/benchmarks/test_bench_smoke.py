"""The benchmark runs end to end on the toy ViT and reports every key the issue asks for."""
import json

from benchmarks import bench
from benchmarks.bench import main


def test_bench_text_and_sclip_stages_with_tiny_model(tmp_path, capsys, monkeypatch):
    # the peak is measured the same way at any size; a small one keeps this test from timing the CPU for long
    monkeypatch.setitem(bench.PEAK_SIZE, "cpu", 256)
    path = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--model", "tiny", "--stages", "text,sclip", "--repeat", "1", "--json", str(path)]
    assert main(argv) == 0
    report = json.loads(path.read_text())

    assert report["settings"]["model"] == "tiny" and report["machine"]["device"] == "cpu"
    assert {"fp32", "bf16"} <= set(report["matmul_peak"])
    assert all(peak["peak_flops_per_s"] > 0 for peak in report["matmul_peak"].values())

    text, sclip = report["stages"]["text"], report["stages"]["sclip"]
    for stage, names in [
        (text, ["cold_writing_cache", "cold_truncated", "cold_full_context", "warm_disk_cache"]),
        (sclip, ["predict_fp32", "predict_bf16", "batched_forward_fp32"]),
    ]:
        for name in names:
            timing = stage["timings"][name]
            assert timing["runs"] == 1 and timing["median_s"] > 0 and timing["min_s"] <= timing["max_s"]
    # FLOPs come from torch's counter: truncation does less work, SCLIP's encoder work is the batched forward's
    timings = text["timings"]
    assert 0 < timings["cold_truncated"]["flops"] < timings["cold_full_context"]["flops"]
    assert sclip["timings"]["predict_fp32"]["flops"] >= sclip["timings"]["batched_forward_fp32"]["flops"] > 0
    assert sclip["timings"]["batched_forward_fp32"]["achieved_flops_per_s"] > 0

    metrics = text["metrics"]
    assert metrics["prompts"] == 56 * 80 and metrics["names"] == 56
    assert metrics["text_max_abs_diff"] < 1e-5  # truncation does not change the classifier
    assert metrics["text_warm_disk_hits"] == 56 and metrics["text_warm_encoded"] == 0
    assert metrics["text_warm_max_abs_diff"] == 0
    assert sclip["metrics"]["windows"] == 6 and sclip["metrics"]["crop_batch_shape"] == [6, 3, 224, 224]
    assert 0 <= sclip["metrics"]["bf16_max_label_disagreement"] <= 1
    assert sclip["metrics"]["bf16_speedup"] > 0

    assert set(report["targets"]) == {
        "text_speedup_truncation", "text_max_abs_diff", "text_warm_seconds", "sclip_over_batched_forward",
    }
    assert report["targets"]["text_max_abs_diff"]["met"] is True
    printed = capsys.readouterr().out
    assert "sclip_over_batched_forward" in printed and "matmul peak" in printed
