"""Benchmark of private sequential learning: the engine's backends against baselines, in one run.

For binary signals under randomized response and Gaussian signals under smoothed RR, 200 agents per
sequence, it prints decisions per second of
- a naive numpy loop over agents with ``scipy.special.ndtr`` (bench/dp_baselines.py; the baseline),
- a plain Mesa model of the same game (bench/dp_baselines.py) and seqrl's own Mesa model,
- the engine: compiled (numba) on one thread and on every core, the numpy backend, and torch on
  the CPU (one thread; a GPU is used when torch sees one, and the output says which device ran),
as ratios against the baseline measured in the same run, against the goals (smoothed RR >= 10x the
naive loop and >= 2e7/s on one core; binary RR >= 1e8/s; all cores >= 1.8x one core), and with the
final public LLR of each host against the compiled engine in standard errors. Then how the cost
grows: decisions/s against runs (200 agents) and against agents per sequence (1024 runs).

One-core rates use this process's CPU time (on a shared machine wall time counts other jobs);
the all-cores ratio uses wall time, one-thread and all-cores runs alternating, best of seven each
(a slow spell of the host then costs both sides alike). All other timings are the best of three.

Run: ``.venv/bin/python bench/bench_dp.py`` (about 40 s); ``--figures docs/figures`` also
draws dp_cost_growth.png (150 dpi) and .svg; ``--quick`` runs smaller sizes. ``--torch-growth``
runs only the torch backend's scale test: decisions/s of torch on its device (the GPU when torch
sees one) against the compiled engine on every core, 200 agents, 2^16 .. 2^22 runs in one chunk,
with the final public LLR of both in standard errors (``bench/gpu_kit.sh`` runs it on a GPU).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from dp_baselines import PlainMesaModel, naive_numpy  # noqa: E402

from seqrl.agents.dp_bayesian_learner import BayesianLearner  # noqa: E402
from seqrl.agents.dp_engine import available_threads, simulate_sequences  # noqa: E402
from seqrl.envs.dp_sequential_learning_mesa import SequentialLearningModel  # noqa: E402
from seqrl.mechanisms.dp_privacy import make_mechanism  # noqa: E402
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal  # noqa: E402

SCENARIOS = {
    "binary": (
        "binary signals, randomized response (p=0.7, eps=1)",
        {"signal": "binary", "p": 0.7, "mechanism": "randomized_response", "epsilon": 1.0},
        BayesianLearner(BinarySignal(0.7), make_mechanism("randomized_response", 1.0)),
        1e8,
    ),
    "gaussian": (
        "Gaussian signals, smoothed RR (sigma=1, eps=1, c=1/2)",
        {"signal": "gaussian", "sigma": 1.0, "mechanism": "smoothed", "epsilon": 1.0},
        BayesianLearner(GaussianSignal(1.0), make_mechanism("smoothed", 1.0)),
        2e7,
    ),
}
N_AGENTS = 200
REPEATS = 3
PAIRED_REPEATS = 7


def _best(function, clock=time.process_time) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(REPEATS):
        start = clock()
        result = function()
        best = min(best, clock() - start)
    return best, result


def _best_alternating(first, second, repeats: int = PAIRED_REPEATS) -> tuple[float, float]:
    """Best wall time of each of two functions, run in alternation."""
    best = [math.inf, math.inf]
    for _ in range(repeats):
        for side, function in enumerate((first, second)):
            start = time.perf_counter()
            function()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0], best[1]


def _mesa_finals(model_class, config: dict, runs: int) -> np.ndarray:
    finals = []
    for run in range(runs):
        model = model_class(n_agents=N_AGENTS, rng=run, **config)
        while model.running:
            model.step()
        finals.append(model.theta * model.public_llr)
    return np.array(finals)


def _standard_errors(reference: np.ndarray, other: np.ndarray) -> float:
    error = math.sqrt(reference.var() / reference.size + other.var() / other.size)
    return (other.mean() - reference.mean()) / error


def _torch_device() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return "cuda" if torch.cuda.is_available() else "cpu"


def compare(key: str, runs: int, mesa_runs: int) -> dict:
    """All hosts on one scenario; returns the rates."""
    name, config, learner, goal = SCENARIOS[key]
    decisions = runs * N_AGENTS
    simulate_sequences(learner, 5, 64, np.random.default_rng(0))  # compile outside the timing
    rates, finals = {}, {}

    def engine(**options):
        return simulate_sequences(learner, N_AGENTS, runs, np.random.default_rng(0), **options)

    seconds, summary = _best(lambda: engine(threads=1))
    rates["compiled, 1 thread"], finals["compiled"] = decisions / seconds, summary.oriented_llr[-1]
    wall_one, wall_all = _best_alternating(lambda: engine(threads=1), engine)
    rates[f"compiled, {available_threads()} threads (wall)"] = decisions / wall_all
    seconds, llr_theta = _best(lambda: naive_numpy(key, N_AGENTS, runs, np.random.default_rng(1)))
    rates["naive numpy + ndtr (baseline)"] = decisions / seconds
    finals["naive numpy"] = llr_theta[0] * llr_theta[1]
    seconds, summary = _best(lambda: engine(backend="numpy"))
    rates["engine, numpy backend"], finals["numpy backend"] = (
        decisions / seconds,
        summary.oriented_llr[-1],
    )
    device = _torch_device()
    if device is not None:
        simulate_sequences(learner, 5, 64, np.random.default_rng(0), backend="torch", device=device)
        clock = time.perf_counter if device == "cuda" else time.process_time
        seconds, summary = _best(lambda: engine(backend="torch", device=device), clock)
        rates[f"engine, torch backend ({device})"] = decisions / seconds
        finals[f"torch ({device})"] = summary.oriented_llr[-1]
    for label, model_class in (("plain Mesa model", PlainMesaModel), ("seqrl Mesa model", None)):
        cls = model_class or SequentialLearningModel
        mesa_config = (
            {key_: value for key_, value in config.items() if key_ != "mechanism"}
            if model_class
            else config
        )
        seconds, mesa_final = _best(lambda cls=cls, c=mesa_config: _mesa_finals(cls, c, mesa_runs))
        rates[label] = mesa_runs * N_AGENTS / seconds
        finals[label] = mesa_final

    compiled = rates["compiled, 1 thread"]
    baseline = rates["naive numpy + ndtr (baseline)"]
    print(f"\n{name}, {N_AGENTS} agents x {runs} runs (Mesa: {mesa_runs} runs)")
    for label, rate in rates.items():
        print(f"  {label:42s} {rate:12.4g} decisions/s   compiled 1 thread / this: "
              f"{compiled / rate:8.1f}x")  # fmt: skip
    goal_ratio = "(goal >= 10x)" if key == "gaussian" else ""
    print(f"  compiled (1 thread) / naive numpy:         {compiled / baseline:8.1f}x {goal_ratio}")
    print(f"  compiled (1 thread) / goal {goal:.0e}/s:       {compiled / goal:8.2f}x (goal >= 1x)")
    print(f"  all cores / one thread (wall, alternating):  {wall_one / wall_all:6.2f}x "
          f"(goal >= 1.8x; {available_threads()} cores, load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"  compiled / plain Mesa model: {compiled / rates['plain Mesa model']:8.0f}x;  "
          f"compiled / seqrl Mesa model: {compiled / rates['seqrl Mesa model']:8.0f}x")  # fmt: skip
    reference = finals.pop("compiled")
    print("  final theta*l_N against the compiled engine (difference in standard errors): "
          + ", ".join(f"{label} {_standard_errors(reference, value):+.2f}"
                      for label, value in finals.items()))  # fmt: skip
    rates["all cores / one thread"] = wall_one / wall_all
    return rates


def cost_growth(key: str, quick: bool) -> dict:
    """Decisions/s against runs (200 agents) and against agents (1024 runs), per backend."""
    _, _, learner, _ = SCENARIOS[key]
    run_grid = [64, 256, 1024, 4096, 16384, 65536] + ([] if quick else [262144])
    agent_grid = [10, 100, 1000, 10_000] + ([] if quick else [100_000])
    table: dict = {"runs": {}, "agents": {}}
    backends = {"compiled, 1 thread": {"threads": 1}, "compiled, all cores": {},
                "numpy backend": {"backend": "numpy"}}  # fmt: skip
    for label, options in backends.items():
        clock = time.perf_counter if label == "compiled, all cores" else time.process_time
        for axis, grid, fixed in (("runs", run_grid, N_AGENTS), ("agents", agent_grid, 1024)):
            rates = []
            for size in grid:
                agents, runs = (fixed, size) if axis == "runs" else (size, fixed)
                if label == "numpy backend" and agents * runs > 2e7:
                    rates.append(None)
                    continue
                seconds, _ = _best(
                    lambda a=agents, r=runs, o=options: simulate_sequences(
                        learner, a, r, np.random.default_rng(0), **o
                    ),
                    clock,
                )
                rates.append(agents * runs / seconds)
            table[axis][label] = {"grid": grid, "rates": rates}
    for axis, fixed in (("runs", f"{N_AGENTS} agents"), ("agents", "1024 runs")):
        print(f"\ncost growth, {SCENARIOS[key][0]}: decisions/s against {axis} ({fixed})")
        grid = table[axis]["compiled, 1 thread"]["grid"]
        print("  " + f"{axis:>10s}" + "".join(f"{label:>22s}" for label in backends))
        for index, size in enumerate(grid):
            cells = [table[axis][label]["rates"][index] for label in backends]
            print("  " + f"{size:>10d}" + "".join(
                f"{'-' if c is None else f'{c:.3g}':>22s}" for c in cells))  # fmt: skip
    return table


def torch_growth(key: str, quick: bool) -> dict:
    """Torch on its device against the compiled engine on every core, runs growing, one chunk."""
    _, _, learner, _ = SCENARIOS[key]
    device = _torch_device()
    simulate_sequences(learner, 5, 64, np.random.default_rng(0))
    simulate_sequences(learner, 5, 64, np.random.default_rng(0), backend="torch", device=device)
    print(f"\ntorch backend ({device}) against the compiled engine ({available_threads()} cores), "
          f"{SCENARIOS[key][0]}, {N_AGENTS} agents, wall time")  # fmt: skip
    print(f"  {'runs':>10s}{'torch/s':>14s}{'compiled/s':>14s}{'torch/compiled':>16s}"
          f"{'final l (SE)':>14s}")  # fmt: skip
    rows = []
    for exponent in range(12, 17) if quick else range(16, 23, 2):
        runs = 2**exponent
        seconds_torch, on_torch = _best(
            lambda r=runs: simulate_sequences(
                learner, N_AGENTS, r, np.random.default_rng(1), chunk_runs=r, backend="torch",
                device=device,
            ),
            time.perf_counter,
        )  # fmt: skip
        seconds_compiled, compiled = _best(
            lambda r=runs: simulate_sequences(learner, N_AGENTS, r, np.random.default_rng(0)),
            time.perf_counter,
        )
        errors = _standard_errors(compiled.oriented_llr[-1], on_torch.oriented_llr[-1])
        torch_rate, compiled_rate = (
            N_AGENTS * runs / seconds_torch,
            N_AGENTS * runs / seconds_compiled,
        )
        print(f"  {runs:>10d}{torch_rate:>14.3g}{compiled_rate:>14.3g}"
              f"{torch_rate / compiled_rate:>15.2f}x{errors:>+14.2f}")  # fmt: skip
        rows.append({"runs": runs, "torch": torch_rate, "compiled": compiled_rate, "se": errors})
    return {"device": device, "rows": rows}


def draw(growth: dict, folder: str) -> None:
    """decisions/s against runs and agents, both signal models, as PNG (150 dpi) and SVG."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    for column, key in enumerate(("binary", "gaussian")):
        for row, axis in enumerate(("runs", "agents")):
            ax = axes[row, column]
            for label, series in growth[key][axis].items():
                grid = np.array(series["grid"], float)
                rates = np.array([np.nan if r is None else r for r in series["rates"]])
                ax.loglog(grid, rates, marker="o", label=label)
            ax.set_xticks(series["grid"], [f"{size:g}" for size in series["grid"]])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel(
                "runs (200 agents)" if axis == "runs" else "agents per sequence (1024 runs)"
            )
            ax.set_ylabel("decisions / s")
            ax.set_title(SCENARIOS[key][0], fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(f"DP engine cost growth ({available_threads()}-core CPU, no GPU)", fontsize=10)
    figure.tight_layout()
    for suffix in ("png", "svg"):
        figure.savefig(os.path.join(folder, f"dp_cost_growth.{suffix}"), dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--figures", help="folder for dp_cost_growth.png/.svg")
    parser.add_argument("--json", help="write the measured rates here")
    parser.add_argument("--torch-growth", action="store_true",
                        help="only torch against the compiled engine, runs growing")  # fmt: skip
    args = parser.parse_args()
    device = _torch_device()
    gpu = "no GPU seen by torch" if device != "cuda" else "torch sees a GPU"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"({available_threads()} usable), {gpu}; python {platform.python_version()}, numpy "
          f"{np.__version__}; load average {os.getloadavg()[0]:.1f}; best of {REPEATS}")  # fmt: skip
    runs, mesa_runs = (16384, 10) if args.quick else (65536, 40)
    if args.torch_growth:
        results = {key: {"torch_growth": torch_growth(key, args.quick)} for key in SCENARIOS}
    else:
        results = {key: {"compare": compare(key, runs, mesa_runs)} for key in SCENARIOS}
        for key in SCENARIOS:
            results[key].update(cost_growth(key, args.quick))
    if args.figures and not args.torch_growth:
        draw(results, args.figures)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
