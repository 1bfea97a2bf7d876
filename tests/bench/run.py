"""Run every benchmark in turn (`make bench`). Benchmarks print ratios; they are not timed tests."""

from tests.bench import (bench_drift_quality, bench_drift_speed, bench_hub, bench_page_load, bench_ship,
                         bench_whoami)

if __name__ == "__main__":
    for bench in (bench_whoami, bench_page_load, bench_hub, bench_ship, bench_drift_quality,
                  bench_drift_speed):
        print(f"== {bench.__name__}")
        bench.main()
