"""Benchmark of System 4 (affective LLM agents with an explicit VAD state).

1. Estimator + dynamics + injection on the 25-turn protocol with the scripted backend: turns/s
   (goal >= 1e4), against a bare scripted chat loop (same prompts, no affect) in the same run; also
   with every text unique (no estimator cache hits) and the batched dynamics kernel alone.
2. The paper's default protocol (4 conditions x 5 seeds x 25 turns) on the embedded SmolLM2-135M:
   wall time (goal <= 15 min on 2 cores) and generated tokens/s, against raw llama.cpp generation
   on a fixed prompt in the same run. ``--seeds K`` measures K seeds per condition and extrapolates.

Both use the default VADER-based estimator; ``--lexicon warriner`` measures the opt-in Warriner
norms instead (extra ``vad-warriner``).

Run: ``python bench/bench_vad.py [--seeds 5] [--max-tokens 48] [--lexicon vader] [--skip-embedded]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seqrl.agents.vad_agent import AffectiveAgent, AffectiveAgentConfig
from seqrl.agents.vad_llm_backends import LlamaCppBackend, ScriptedBackend
from seqrl.envs.vad_dialogue import load_dialogue_script
from seqrl.mechanisms.vad_affect import (
    LEXICONS,
    AffectDynamicsParams,
    Lexicon,
    LexiconAffectEstimator,
    simulate_dynamics,
)

CONDITIONS = [
    AffectDynamicsParams(condition="stateless"),
    AffectDynamicsParams(condition="first-order"),
    AffectDynamicsParams(condition="second-order", mu=0.8),
    AffectDynamicsParams(condition="second-order", mu=0.95),
]
REPLIES = ["I see what you mean.", "Let me think about that.", "That is a fair point."]


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_scripted(episodes: int, lexicon: Lexicon) -> None:
    script = load_dialogue_script()
    estimator = LexiconAffectEstimator(lexicon)
    turns = episodes * len(script)

    started = time.perf_counter()
    backend = ScriptedBackend(REPLIES)
    for _ in range(episodes):
        history: list[dict[str, str]] = []
        for text in script.texts:
            messages = [
                {"role": "system", "content": "You are helpful."},
                *history,
                {"role": "user", "content": text},
            ]
            reply = backend.generate(messages, seed=0, temperature=0.7)
            history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
    bare = time.perf_counter() - started

    def affective(unique: bool) -> float:
        started = time.perf_counter()
        for episode in range(episodes):
            replies = [f"{r} ({episode})" for r in REPLIES] if unique else REPLIES
            agent = AffectiveAgent(ScriptedBackend(replies), CONDITIONS[3], estimator=estimator)
            for text in script.texts:
                agent.respond(f"{text} ({episode})" if unique else text)
        return time.perf_counter() - started

    cached, uncached = affective(unique=False), affective(unique=True)
    print(
        f"[scripted] {turns} turns, lexicon={lexicon}, estimator_source=user, second order, "
        "full history"
    )
    print(f"  bare scripted chat loop (baseline): {_rate(turns, bare)} turns")
    print(
        f"  affective agent, protocol texts:    {_rate(turns, cached)} turns  "
        f"= {bare / cached:.2f} x baseline, {turns / cached / 1e4:.2f} x goal 1e4"
    )
    print(
        f"  affective agent, all texts unique:  {_rate(turns, uncached)} turns  "
        f"= {bare / uncached:.2f} x baseline, {turns / uncached / 1e4:.2f} x goal 1e4"
    )

    estimates = np.random.default_rng(0).uniform(-1, 1, size=(25, 10_000, 3))
    started = time.perf_counter()
    simulate_dynamics(estimates, CONDITIONS[3])
    kernel = time.perf_counter() - started
    print(
        f"  batched dynamics kernel (10,000 agents x 25 turns): {_rate(250_000, kernel)} "
        f"agent-turns = {250_000 / kernel / (turns / cached):.0f} x the agent loop"
    )


def bench_embedded(seeds: int, max_tokens: int, lexicon: Lexicon) -> None:
    script = load_dialogue_script()
    estimator = LexiconAffectEstimator(lexicon)
    started = time.perf_counter()
    backend = LlamaCppBackend(max_tokens=max_tokens)
    load_seconds = time.perf_counter() - started

    # Baseline: raw generation on a fixed short prompt, the same number of calls as one run.
    messages = [{"role": "user", "content": "Tell me something about the mind."}]
    before, started = backend.generated_tokens, time.perf_counter()
    for call in range(len(script)):
        backend.generate(messages, seed=call, temperature=0.7)
    raw_seconds = time.perf_counter() - started
    raw_rate = (backend.generated_tokens - before) / raw_seconds

    before, started = backend.generated_tokens, time.perf_counter()
    for dynamics in CONDITIONS:
        for seed in range(seeds):
            agent = AffectiveAgent(
                backend, dynamics, AffectiveAgentConfig(), seed=1000 * seed, estimator=estimator
            )
            for text in script.texts:
                agent.respond(text)
    seconds = time.perf_counter() - started
    tokens = backend.generated_tokens - before
    runs = len(CONDITIONS) * seeds
    full = seconds / runs * len(CONDITIONS) * 5
    print(
        f"[embedded] SmolLM2-135M-Instruct Q4_1, max_tokens={max_tokens}, load {load_seconds:.2f}s"
    )
    print(f"  raw generation, fixed prompt (baseline): {raw_rate:.1f} tokens/s")
    print(
        f"  protocol: {runs} runs x 25 turns in {seconds:.1f}s, {tokens} tokens, "
        f"{tokens / seconds:.1f} tokens/s = {tokens / seconds / raw_rate:.2f} x baseline"
    )
    label = "measured" if seeds == 5 else f"extrapolated from {seeds} seed(s)"
    print(
        f"  full default protocol (4 x 5 x 25): {full / 60:.1f} min ({label}) "
        f"= {full / 900:.2f} x the 15-min goal"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400, help="scripted episodes")
    parser.add_argument("--seeds", type=int, default=5, help="embedded seeds per condition")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--lexicon", choices=LEXICONS, default="vader")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    bench_scripted(args.episodes, args.lexicon)
    if not args.skip_embedded:
        bench_embedded(args.seeds, args.max_tokens, args.lexicon)


if __name__ == "__main__":
    main()
