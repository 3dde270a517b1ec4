"""summary.md, summary.csv and figures (PNG and SVG) from a run's stored results.

Per parameter combination and numeric metric, over the combination's seeds: the mean, median and
interquartile mean (IQM), each with a 95% stratified-bootstrap interval (:mod:`seqrl.scenarios.statistics`)
and the number of seeds n beside it. From fewer than three seeds no interval is formed: summary.md
shows the seeds' values instead. summary.md holds one compact table per group of combinations (the
scenario's sub-grids), parameters and metrics as columns, each cell the mean and its interval;
summary.csv holds every estimator.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqrl.scenarios.core import RESERVED_COLUMNS, BadInput, Scenario
from seqrl.scenarios.statistics import ESTIMATORS, MIN_SEEDS_FOR_INTERVAL, estimate, estimates
from seqrl.scenarios.storage import SUMMARY, RunStore, atomic_write

logger = logging.getLogger(__name__)

SUMMARY_CSV = "summary.csv"
FIGURE_DPI = 200
FIGURE_FORMATS = ("png", "svg")
"""Every figure is saved as a raster (PNG at :data:`FIGURE_DPI`) and a vector (SVG) file."""


def metric_columns(results: pd.DataFrame, param_names: list[str]) -> list[str]:
    """The numeric (or boolean) result columns that are neither parameters nor runner columns."""
    return [
        c
        for c in results.columns
        if c not in param_names
        and c not in RESERVED_COLUMNS
        and (pd.api.types.is_numeric_dtype(results[c]) or pd.api.types.is_bool_dtype(results[c]))
    ]


def _groups(results: pd.DataFrame, param_names: list[str]) -> Any:
    if not param_names:
        return [((), results)]
    return results.groupby(param_names, sort=False, dropna=False)


def summarise(results: pd.DataFrame, param_names: list[str]) -> pd.DataFrame:
    """One row per (parameter combination, metric): ``n`` and, for each of mean, median and iqm,
    the estimate and its 95% interval (``mean``, ``mean_low``, ``mean_high``, ...).

    The bounds are NaN when fewer than three seeds have a finite value.
    """
    rows: list[dict[str, Any]] = []
    for key, group in _groups(results, param_names):
        key = key if isinstance(key, tuple) else (key,)
        for metric in metric_columns(results, param_names):
            values = group[metric].to_numpy(dtype=float)
            row: dict[str, Any] = {**dict(zip(param_names, key, strict=True)), "metric": metric}
            row["n"] = int(np.isfinite(values).sum())
            for name, found in estimates(values, ESTIMATORS).items():
                row |= {name: found.value, f"{name}_low": found.low, f"{name}_high": found.high}
            rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return "nan" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _cell(values: np.ndarray) -> str:
    """Mean [95% CI] from >= 3 seeds; otherwise each seed's value (no interval)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "–"
    if finite.size < MIN_SEEDS_FOR_INTERVAL:
        return ", ".join(_fmt(v) for v in finite)
    found = estimate(finite)
    text = f"{_fmt(found.value)} [{_fmt(found.low)}, {_fmt(found.high)}]"
    return text if finite.size == values.size else f"{text} (n={finite.size})"


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def _in_subgrid(results: pd.DataFrame, subgrid: dict[str, list[Any]]) -> pd.Series:
    mask = pd.Series(True, index=results.index)
    for name, allowed in subgrid.items():
        if name in results.columns:
            mask &= results[name].astype(str).isin([str(v) for v in allowed])
    return mask


def result_tables(
    results: pd.DataFrame, grids: list[dict[str, list[Any]]]
) -> list[tuple[str, str]]:
    """(heading, markdown table) per sub-grid: a row per combination, a column per parameter that
    varies within the sub-grid, ``seeds``, and a column per metric with a finite value there."""
    param_names = [p for p in grids[0] if p in results.columns]
    metrics = metric_columns(results, param_names)
    varies = {p for p in param_names if results[p].astype(str).nunique() > 1}
    taken = pd.Series(False, index=results.index)
    tables = []
    for subgrid in grids:
        mask = _in_subgrid(results, subgrid) & ~taken
        taken |= mask
        part = results[mask]
        if part.empty:
            continue
        keys = [p for p in param_names if len(subgrid[p]) > 1 and p in varies]
        constant = [p for p in param_names if len(subgrid[p]) == 1 and p in varies]
        shown = [m for m in metrics if part[m].notna().any()]
        body = [
            [*(_fmt(v) for v in (key if isinstance(key, tuple) else (key,))), str(len(group)),
             *(_cell(group[m].to_numpy(dtype=float)) for m in shown)]
            for key, group in _groups(part, keys)
        ]  # fmt: skip
        heading = ", ".join(f"{p} = {_fmt(part[p].iloc[0])}" for p in constant)
        tables.append((heading, _markdown_table([*keys, "seeds", *shown], body)))
    return tables


def _header(manifest: dict[str, Any], n_finished: int) -> list[str]:
    identity = manifest["identity"]
    commit = (manifest.get("code") or {}).get("commit")
    date = manifest.get("finished") or manifest.get("started") or "?"
    n_seeds = identity["n_seeds"]
    return [
        f"# {identity['scenario']}",
        "",
        manifest.get("description", ""),
        "",
        f"- scenario: `{identity['scenario']}`{' (quick)' if manifest.get('quick') else ''}",
        f"- commit: `{commit[:12] if commit else 'unknown'}`",
        f"- seeds: {n_seeds} per combination (root seed {identity['root_seed']})",
        f"- tasks: {n_finished} of {manifest.get('n_tasks', '?')} finished"
        f" ({manifest.get('status', '?')})",
        f"- date: {date}",
        "",
    ]


def _statistics_note(n_seeds: int) -> str:
    if n_seeds < MIN_SEEDS_FOR_INTERVAL:
        return (
            f"Each cell lists the value of each of the {n_seeds} seeds: no confidence interval is "
            f"formed from fewer than {MIN_SEEDS_FOR_INTERVAL} seeds. "
        )
    return (
        "Each cell: mean over the `seeds` [95% stratified-bootstrap interval]; "
        f"cells with fewer than {MIN_SEEDS_FOR_INTERVAL} finite values list the values instead. "
    )


def write_report(out_dir: Path) -> Path:
    """Consolidate a run directory's tasks, save the scenario's figures, write summary.md and .csv.

    Raises:
        BadInput: the directory holds no seqrl run.
    """
    store = RunStore(out_dir)
    manifest = store.read_manifest()
    if manifest is None:
        raise BadInput(f"{out_dir}: no manifest.json here; not a seqrl run directory")
    grids = manifest["identity"]["grid"]
    param_names = list(grids[0])
    results, trajectories = store.consolidate(order=[*param_names, "seed_index"])
    values = {k: list(dict.fromkeys(str(v) for g in grids for v in g[k])) for k in param_names}
    fixed = [f"`{k}={v[0]}`" for k, v in values.items() if len(v) == 1]
    lines = _header(manifest, len(results))
    if fixed:
        lines += ["Fixed parameters: " + ", ".join(fixed), ""]
    if not results.empty:
        summary = summarise(results, [p for p in param_names if p in results.columns])
        atomic_write(out_dir / SUMMARY_CSV, lambda p: summary.to_csv(p, index=False))
        lines += [
            _statistics_note(int(manifest["identity"]["n_seeds"]))
            + f"Mean, median and IQM with their intervals and n: [{SUMMARY_CSV}]({SUMMARY_CSV}).",
            "",
        ]
        for heading, table in result_tables(results, grids):
            lines += [*([f"## {heading}", ""] if heading else []), table, ""]
        stems = _save_figures(out_dir, manifest.get("reference"), results, trajectories)
        if stems:
            lines += ["## Figures", ""]
        for stem in stems:
            lines += [f"![{stem}]({stem}.png)", "", f"[{stem}.svg]({stem}.svg)", ""]
        lines += _artifact_lines(out_dir)
    text = "\n".join(lines)
    atomic_write(out_dir / SUMMARY, lambda p: p.write_text(text))
    return out_dir / SUMMARY


def list_artifacts(out_dir: Path) -> dict[str, list[str]]:
    """The files under ``artifacts/<task id>/`` by task id, as paths relative to ``out_dir``."""
    root = out_dir / "artifacts"
    if not root.is_dir():
        return {}
    return {
        task.name: sorted(p.relative_to(out_dir).as_posix() for p in task.rglob("*") if p.is_file())
        for task in sorted(root.iterdir())
        if task.is_dir()
    }


def _artifact_lines(out_dir: Path) -> list[str]:
    artifacts = {task: files for task, files in list_artifacts(out_dir).items() if files}
    if not artifacts:
        return []
    lines = ["## Artifacts", ""]
    for task, files in artifacts.items():
        lines.append(f"- `{task}`: " + ", ".join(f"[{Path(f).name}]({f})" for f in files[:8]))
        if len(files) > 8:
            lines[-1] += f" and {len(files) - 8} more"
    return [*lines, ""]


def save_figure(figure: Any, directory: Path, stem: str) -> list[Path]:
    """Save one matplotlib figure as ``stem.png`` (:data:`FIGURE_DPI`) and ``stem.svg``."""
    paths = []
    for extension in FIGURE_FORMATS:
        path = directory / f"{stem}.{extension}"
        atomic_write(path, partial(figure.savefig, format=extension, dpi=FIGURE_DPI))
        paths.append(path)
    return paths


def _save_figures(
    out_dir: Path, reference: str | None, results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> list[str]:
    if reference is None:
        return []
    from seqrl.scenarios.registry import resolve

    try:
        scenario: Scenario = resolve(reference)
    except BadInput as error:
        logger.warning("no plots: %s", error)
        return []
    if scenario.plot is None:
        return []
    import matplotlib.pyplot as plt

    saved = []
    for stem, figure in scenario.plot(results, trajectories).items():
        save_figure(figure, out_dir, stem)
        plt.close(figure)
        saved.append(stem)
    return saved
