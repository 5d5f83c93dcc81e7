"""Which parameters of a Classifier train: the body frozen or not, and BatchNorm's statistics."""

from torch import nn

from pets.model.classifier import Classifier

BATCHNORM = nn.modules.batchnorm._BatchNorm


def set_body_frozen(classifier: Classifier, frozen: bool, train_bn: bool = False) -> None:
    """Freeze or unfreeze the body; with `train_bn` its BatchNorm layers' scale and shift stay trainable."""
    for parameter in classifier.body_parameters():
        parameter.requires_grad_(not frozen)
    if train_bn:
        for module in classifier.module.modules():
            if isinstance(module, BATCHNORM):
                module.requires_grad_(True)


def freeze_batchnorm_stats(classifier: Classifier, everywhere: bool = False) -> None:
    """Put the body's BatchNorm layers in eval mode, so that they normalise with their running (ImageNet) statistics
    and keep them as they are: the frozen ones, or `everywhere` also those that train. A head's own BatchNorm layers
    (fastai's head) always learn their statistics."""
    head = set(classifier.head_module.modules())
    for module in classifier.module.modules():
        if (
            isinstance(module, BATCHNORM)
            and module not in head
            and (everywhere or not any(p.requires_grad for p in module.parameters()))
        ):
            module.eval()
