"Faults during training: a non-finite loss stops the run with a message and keeps the last good checkpoint."
import math
import pytest, torch
from shoptasks import pretrain, ShoptasksError
from shoptasks.hookspecs import hookimpl
from shoptasks.plugins import plugin_manager
from shoptasks.trainer import checkpoints

class PoisonWeights:
    "A fault: after step 6 one weight becomes NaN, as after an overflow."
    def __init__(self, at): self.at = at
    @hookimpl
    def on_step_end(self, trainer, step):
        if step == self.at:
            with torch.no_grad(): next(trainer.model.parameters()).view(-1)[0] = math.nan

def test_non_finite_loss_names_the_step_and_keeps_the_last_good_checkpoint(shop_dir, tmp_path):
    plugin = PoisonWeights(at=6)
    plugin_manager().register(plugin)
    try:
        with pytest.raises(ShoptasksError, match=r"the loss is nan at step 7; stopped, the last good checkpoint is .*ckpt-0000006"):
            pretrain(data=str(shop_dir/"corpus.txt"), out=str(tmp_path/"run"), preset="tiny", vocab_size=400, max_steps=20,
                     checkpoint_every=2, eval_every=10, compile=False, quiet=True)
    finally: plugin_manager().unregister(plugin)
    assert [p.name for p in checkpoints(tmp_path/"run")] == ["ckpt-0000004", "ckpt-0000006"]
    w = next(iter(torch.load(tmp_path/"run"/"ckpt-0000006"/"trainer_state.pt", weights_only=True)["optimizer"]["state"].values()))
    assert all(torch.isfinite(t).all() for t in w.values() if torch.is_tensor(t))

def test_early_stopping_stops_a_run_that_stops_improving(shop_dir, tmp_path):
    "With a learning rate of 0 the validation loss never improves after the first evaluation."
    m = pretrain(data=str(shop_dir/"corpus.txt"), out=str(tmp_path/"run"), preset="tiny", vocab_size=400, max_steps=400,
                 eval_every=5, early_stopping=2, lr=0.0, compile=False, quiet=True)
    assert m["steps"] == 15 and m["stop_reason"].startswith("early stopping")
