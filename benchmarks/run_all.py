"""Every benchmark, one after the other: layers, a training step, generation.

    python benchmarks/run_all.py            # the full runs (about 10 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # under a minute or two
"""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("bench_layers.py", "bench_train_step.py", "bench_generate.py")


def main() -> int:
    here = Path(__file__).parent
    options = [arg for arg in sys.argv[1:] if arg == "--quick"]
    for script in BENCHMARKS:
        print(f"\n===== {script} {' '.join(options)}", flush=True)
        result = subprocess.run([sys.executable, str(here / script), *options], cwd=here.parent)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
