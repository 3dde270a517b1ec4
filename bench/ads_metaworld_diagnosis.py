"""Why the state-based Meta-World comparison of System 3 learns nothing at 40k steps: is it the
OT reward, the progress recognizer, or the learner's budget?

Run: ``python bench/ads_metaworld_diagnosis.py [--budget 40000] [--tasks hammer-v3 ...]``.

1. **Is the OT reward informative?** Per task, 10 demos of Meta-World's scripted expert (as
   ``ads-metaworld`` collects them) fix the OT reward (Euclidean cost on standardised states,
   reg 0.01, 100 iterations, best of N). Then 10 fresh episodes of each behaviour are scored:
   held-out expert episodes, the expert with Gaussian action noise (sd 0.3 and 1.0), the expert
   at half speed (its actions halved), uniform random actions and standing still. Printed per
   behaviour: mean unscaled OT return, mean Meta-World dense return, success rate; over all
   episodes, Spearman's rank correlation of the OT return with the dense return and the AUC of
   the OT return for success. An informative proxy ranks the expert first, the noisy experts
   next and random or idle last.
   **Would the recognizer advance?** For the same episodes: the agent statistic S_p0 (90th
   percentile of the match scores over episodes x demos) against the bar floor(0.9 R_p0), and
   the progress the recognizer reaches if it saw these episodes at every one of 40 evaluations
   (p0 = floor(0.2 T) at the start, T at most).
2. **Does the learner solve the task with the true reward at the same budget?** The same
   ``SAC-batched`` learner (SAC 256 x 256, 3 runs per task, fixed gamma 0.99) trained on
   Meta-World's own dense reward (``reward=env``, an oracle control) for ``--budget`` steps.
   If the oracle does not succeed either, the budget (exploration and SAC's sample cost), not
   the OT reward, is what stops the comparison.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

TASKS = ["basketball-v3", "hammer-v3", "assembly-v3"]
BEHAVIOURS = (
    "expert", "expert + noise 0.3", "expert + noise 1.0", "expert at half speed", "random", "idle"
)  # fmt: skip


def rollout(env, policy, seed: int, min_success_steps: int = 4) -> tuple[np.ndarray, float, bool]:
    """Observations ``(T, d)``, dense return and success of one episode."""
    observation, info = env.reset(seed=seed)
    frames, total, success_steps = [], 0.0, 0
    done = False
    while not done:
        observation, reward, terminated, truncated, info = env.step(
            policy(info["full_observation"])
        )
        frames.append(observation)
        total += float(reward)
        success_steps += bool(info["success"])
        done = terminated or truncated
    return np.stack(frames), total, success_steps >= min_success_steps


def informativeness(task: str, episodes: int) -> None:
    from seqrl.agents.ads_expert_demos import collect_demos
    from seqrl.agents.ads_imitation import OTRewarder
    from seqrl.envs.ads_fetch_deliver import with_time_limit
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert
    from seqrl.mechanisms.ads_discount_scheduling import (
        ProgressParams,
        agent_statistic,
        reference_scores,
        update_progress,
    )
    from seqrl.scenarios.library.ads import StateOTRewardParams

    env = with_time_limit(MetaWorldImitationEnv(task))
    expert = scripted_expert(task)
    horizon = env.get_wrapper_attr("horizon")
    demos = collect_demos(env, expert, horizon, 10, np.random.default_rng(0)).observations
    rewarder = OTRewarder(demos, StateOTRewardParams())
    noise = np.random.default_rng(1)
    policies = {
        "expert": expert,
        "expert + noise 0.3": lambda o: np.clip(expert(o) + noise.normal(0, 0.3, 4), -1, 1),
        "expert + noise 1.0": lambda o: np.clip(expert(o) + noise.normal(0, 1.0, 4), -1, 1),
        "expert at half speed": lambda o: 0.5 * expert(o),
        "random": lambda o: noise.uniform(-1, 1, 4),
        "idle": lambda o: np.zeros(4),
    }
    reference = reference_scores(rewarder.demo_costs())
    progress_params = ProgressParams(horizon=horizon)
    p0 = progress_params.initial_progress
    ot, dense, solved = [], [], []
    print(f"\n{task} (T = {horizon}; 10 demos; {episodes} episodes per behaviour; recognizer "
          f"bar at p0 = {p0}: floor(0.9 R_p0) = {np.floor(0.9 * reference[p0 - 1]):.0f})")  # fmt: skip
    for name in BEHAVIOURS:
        runs = [rollout(env, policies[name], 10_000 + e) for e in range(episodes)]
        frames = np.stack([frames for frames, _, _ in runs])
        returns = rewarder.raw_rewards(frames).sum(axis=-1)
        ot.append(returns)
        dense.append([total for _, total, _ in runs])
        solved.append([success for _, _, success in runs])
        costs = rewarder.costs(frames).reshape(-1, horizon, horizon)
        progress = p0
        for _ in range(40):
            progress = update_progress(progress, costs, reference, progress_params)
        print(f"  {name:20s} OT return {returns.mean():8.2f} +/- {returns.std():6.2f}   "
              f"dense return {np.mean(dense[-1]):8.1f}   success {np.mean(solved[-1]):.1f}   "
              f"S_p0 {agent_statistic(costs, p0):4.1f}   progress after 40 evaluations "
              f"{progress}")  # fmt: skip
    ot_all, dense_all = np.concatenate(ot), np.concatenate(dense)
    solved_all = np.concatenate(solved)
    rho = stats.spearmanr(ot_all, dense_all).statistic
    auc = stats.mannwhitneyu(ot_all[solved_all], ot_all[~solved_all]).statistic / max(
        solved_all.sum() * (~solved_all).sum(), 1
    )
    print(
        f"  Spearman(OT return, dense return) = {rho:.2f}; AUC of OT return for success = {auc:.2f}"
    )
    env.close()


def oracle(tasks: list[str], budget: int, workers: int) -> None:
    import seqrl

    start = time.perf_counter()
    result = seqrl.run(
        "ads-metaworld",
        {"algorithm": "SAC-batched", "runs": 3, "budget": budget, "eval_freq": 5_000,
         "reward": "env", "schedule": "fixed", "gamma": 0.99},
        {"task": tasks}, seeds=1, workers=workers,
    )  # fmt: skip
    wall = time.perf_counter() - start
    curves = result.trajectories.query("metric == 'success_rate'")
    print(f"\nOracle control: SAC-batched on Meta-World's dense reward, fixed gamma 0.99, 3 runs "
          f"per task, {budget} steps per run ({wall:.0f} s)")  # fmt: skip
    for task, group in curves.groupby("task"):
        final = group[group["step"] == group["step"].max()]["value"]
        solved = group[group["value"] > 0]["step"]
        first = f"first success at {solved.min():.0f} steps" if len(solved) else "no success"
        best = group.groupby("step")["value"].mean().max()
        print(f"  {task}: final success {', '.join(f'{v:.2f}' for v in final)}; best mean "
              f"{best:.2f}; {first}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--episodes", type=int, default=10, help="episodes per behaviour")
    parser.add_argument("--budget", type=int, default=40_000, help="oracle steps per run")
    parser.add_argument("--oracle-tasks", nargs="+", default=["basketball-v3", "hammer-v3"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for task in args.tasks:
        informativeness(task, args.episodes)
    if args.budget:
        oracle(args.oracle_tasks, args.budget, args.workers)


if __name__ == "__main__":
    main()
