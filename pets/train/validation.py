"""The validation after each epoch, and its shortcut while the body is frozen."""

import torch
import torch.nn.functional as F

from pets.data.loader import CachedSplit
from pets.inference import forward
from pets.model.classifier import Classifier
from pets.runtime import distributed
from pets.runtime.profile import Runtime

MAX_KEPT_BYTES = 2**30  # what the head receives for a process's validation images, kept on its device


class Validation:
    """(mean loss, error rate) on the validation split after each epoch of one phase, summed over every process's
    shard.

    While the body is fixed (frozen, with its BatchNorm statistics: pets.train.recipe.body_is_fixed), what it hands
    the head for a validation image is the same every epoch: the first validation keeps it, and the later ones run
    the head alone. The figures are the same bit for bit (tests/test_train.py); the body's passes are saved (on the
    photos quick start 7 of its 10 validations, a third of the train stage). Kept only where the head's output is the
    model's (no operation after the head) and it fits in MAX_KEPT_BYTES."""

    def __init__(self, classifier: Classifier, split: CachedSplit, runtime: Runtime, body_is_fixed: bool):
        self.classifier, self.split, self.runtime = classifier, split, runtime
        self.keep, self.kept = body_is_fixed, None  # kept: (the head's input of each batch, the labels)

    def __call__(self) -> tuple[float, float]:
        if self.kept:
            log_probs, labels = self._head_alone()
        elif self.keep:
            log_probs, labels = self._keeping_head_inputs()
        else:
            log_probs, labels = forward.split_log_probabilities(self.classifier, self.split, self.runtime)
        totals = torch.stack(
            [F.nll_loss(log_probs, labels, reduction="sum"), (log_probs.argmax(1) != labels).sum().float()]
        )
        totals = distributed.sum_across(totals).tolist()
        return totals[0] / len(self.split), totals[1] / len(self.split)

    def _keeping_head_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, outputs = [], []

        def keep(module, args, output):  # returns None: the output unchanged
            inputs.append(args[0])
            outputs.append(output)

        hook = self.classifier.head_module.register_forward_hook(keep)
        try:
            log_probs, labels = forward.split_log_probabilities(self.classifier, self.split, self.runtime)
        finally:
            hook.remove()
        self.keep = False  # one try a phase
        if all(isinstance(x, torch.Tensor) for x in inputs + outputs) and self._same(outputs, log_probs):
            if sum(x.nelement() * x.element_size() for x in inputs) <= MAX_KEPT_BYTES:
                self.kept = inputs, labels
        return log_probs, labels

    @staticmethod
    def _same(head_outputs: list[torch.Tensor], log_probs: torch.Tensor) -> bool:
        """Whether the head's outputs are the model's logits: log_probabilities (temperature 1) gives exactly them."""
        if not head_outputs:
            return False
        from_head = torch.cat([logits.float().log_softmax(1) for logits in head_outputs])
        return from_head.shape == log_probs.shape and torch.equal(from_head, log_probs)

    @torch.no_grad()
    def _head_alone(self) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, labels = self.kept
        self.classifier.module.eval()
        head = self.classifier.head_module
        log_probs = []
        for batch in inputs:
            with self.runtime.autocast():
                log_probs.append(head(batch).float().log_softmax(1))
        return torch.cat(log_probs), labels
