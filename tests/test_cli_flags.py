"""rnnkit/cli/common.py: the helpers every command shares."""

from rnnkit.cli.common import stop_summary


def test_stop_summary_says_when_no_validation_ran_and_keeps_a_zero_score():
    stopped = {"stop_reason": "max steps", "step": 30, "monitor": "val_accuracy"}
    assert stop_summary({**stopped, "best_score": None}) == "stopped (max steps) at step 30; no validation ran"
    assert stop_summary({**stopped, "best_score": 0.0}).endswith("best val_accuracy 0.0000")
    assert stop_summary({**stopped, "monitor": "val_loss", "best_score": 1.4621}, " nats/char") == \
        "stopped (max steps) at step 30; best val_loss 1.4621 nats/char"
