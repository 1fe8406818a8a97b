"""Speed and memory benchmark of the three stages: ``python -m benchmarks.bench --help``.

Models are built with random weights of the real architectures, so the benchmark never needs a download;
speed does not depend on weight values.
"""
