"""Speed and memory benchmarks: `python -m benchmarks.<bench>` from the pack folder; JSON on stdout."""
