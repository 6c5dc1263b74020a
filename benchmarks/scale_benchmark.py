"""Scale benchmark: streamed denoising of a stack larger than the memory limit (docs/large-data.md).

    python benchmarks/scale_benchmark.py WORKDIR [--frames 2000] [--size 512] [--memory-limit 500MB]
        [--workers 2] [--capped-frames 0 --cap-gb 0 --cap cgroup] [--base 16] [--no-in-memory]

Generates a float32 FRAMES x SIZE x SIZE Zarr stack in WORKDIR, trains a small saved video model on a crop, and
runs (each in a child process whose whole process tree's peak RSS is sampled): the streamed run, the in-memory
path, a LocalCluster run, a run killed with SIGKILL at ~50 % and rerun, another run's output (refused), an output
made unwritable mid-run, and optionally a stack larger than a hard memory cap (a cgroup memory limit, or
`prlimit --as`). --frames 0 runs only the capped case.
Prints one Markdown table and writes WORKDIR/scale.json.

    python benchmarks/scale_benchmark.py WORKDIR --scaling 30,60,120 [--size 512] [--workers 2] [--repeats 2]
        [--memory-limit LIMIT] [--no-tcp] [--force-cluster]

Frames per second against stack size instead: for each number of frames, one process (`--scheduler threads`),
`local:N` and a `tcp://` cluster of N workers started by hand on 127.0.0.1 (`dask scheduler`, `dask worker
--nworkers N --nthreads 1`), back to back with the order rotated at each repetition, the default video network
(width 16) and the CLI's default memory limit. Prints the table and each run's time breakdown; writes
WORKDIR/scaling.json.
"""

from __future__ import annotations

import argparse

from operando.bench.scale import run_scale_benchmark, run_scaling_benchmark, scaling_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--memory-limit", default=None,
                        help="500MB (default), or with --scaling the CLI's default (half the available memory)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--capped-frames", type=int, default=0)
    parser.add_argument("--cap-gb", type=float, default=0.0)
    parser.add_argument("--cap", choices=("cgroup", "prlimit"), default="cgroup",
                        help="cap memory with a cgroup-v1 memory limit (root) or prlimit --as")
    parser.add_argument("--capped-method", default=None,
                        help="denoise the capped stack with this method (e.g. gaussian) instead of the saved model")
    parser.add_argument("--base", type=int, default=16, help="width of the benchmark network (16: the default)")
    parser.add_argument("--no-in-memory", action="store_true")
    parser.add_argument("--scaling", default=None, help="frames per second against stack size: comma-separated "
                        "numbers of frames (e.g. 30,60,120)")
    parser.add_argument("--repeats", type=int, default=2, help="--scaling: repetitions (order rotated)")
    parser.add_argument("--no-tcp", action="store_true", help="--scaling: leave out the hand-started tcp:// cluster")
    parser.add_argument("--force-cluster", action="store_true", help="--scaling: start the LocalCluster even on "
                        "stacks too small for it to pay (otherwise they run in one process, with a note)")
    args = parser.parse_args()
    if args.scaling:
        limit = args.memory_limit
        rows = run_scaling_benchmark(args.workdir, sizes=tuple(int(n) for n in args.scaling.split(",")),
                                     size=args.size, workers=args.workers, repeats=args.repeats, memory_limit=limit,
                                     base=args.base, tcp=not args.no_tcp, force_cluster=args.force_cluster)
        print(scaling_table(rows))
        for row in rows:
            print(row)
        return
    rows = run_scale_benchmark(args.workdir, frames=args.frames, size=args.size,
                               memory_limit=args.memory_limit or "500MB", workers=args.workers,
                               in_memory=not args.no_in_memory, capped_frames=args.capped_frames,
                               cap_bytes=int(args.cap_gb * 1e9), cap=args.cap,
                               capped_method=args.capped_method, base=args.base)
    keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "case", k))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
