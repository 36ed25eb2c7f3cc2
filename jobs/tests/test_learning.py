"""The tiny profile really learns the shipped task: unseen accuracy above the gate's 0.85.

The sft stage measures the shipped test set (greedy answers, exact match after
normalisation) on the model it starts from and on the one it trained. Held-out
("unseen") prompts are particle/ending combinations never trained on, so passing them
needs the rule, not memory. Three seeds: a change that stops the model from learning fails
here, not only in `make demo`'s gate.
"""

from __future__ import annotations

import pytest

from conftest import SEEDS, train_sft

GATE = 0.85

# Minutes of training per seed: run on demand (`make learning-test`).
pytestmark = pytest.mark.learning


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_sft_learns_the_task_on_unseen_combinations(seed, tmp_path_factory, cpt_outcome, corpus_dataset,
                                                        tiny_params, jobs_root, quiet):
    profile_steps = {k: v for k, v in tiny_params.items() if k != "sft_max_steps"}  # the profile's own sft
    outcome = train_sft(tmp_path_factory, cpt_outcome, corpus_dataset, profile_steps, jobs_root, seed)
    s = outcome.summary
    assert s["exact_match_unseen_before"] < 0.5, "the pre-trained model should not know the task yet"
    assert s["exact_match_unseen_after"] > GATE, s
    assert s["exact_match_seen_after"] > GATE, s
    assert s["accuracy_unseen_after"] >= s["exact_match_unseen_after"]
    # ...and keeps cpt's language model (replay): held-out perplexity within 10x of cpt's, where
    # sft without the replay multiplied it by 10^3-10^4
    assert s["heldout_perplexity_after"] < 10 * s["heldout_perplexity_before"], s
