"""Which parameters train: the body frozen or not, layer groups for discriminative rates, BatchNorm's statistics."""

from torch import nn

from pets.model.archs import body_parameters, resolve

BATCHNORM = nn.modules.batchnorm._BatchNorm


def layer_groups(model: nn.Module, arch: str, n_body_groups: int, group_by: str = "stages") -> list[list[nn.Parameter]]:
    """Parameter lists, first layers first: the body cut into `n_body_groups` groups, then the head."""
    spec = resolve(arch)
    return spec.body_groups(model, n_body_groups, group_by) + [list(spec.head(model).parameters())]


def set_body_frozen(model: nn.Module, arch: str, frozen: bool, train_bn: bool = False) -> None:
    """Freeze or unfreeze the body; with `train_bn` its BatchNorm layers' scale and shift stay trainable."""
    for parameter in body_parameters(model, resolve(arch).head(model)):
        parameter.requires_grad_(not frozen)
    if train_bn:
        for module in model.modules():
            if isinstance(module, BATCHNORM):
                module.requires_grad_(True)


def freeze_batchnorm_stats(model: nn.Module, arch: str, everywhere: bool = False) -> None:
    """Put the body's BatchNorm layers in eval mode, so that they normalise with their running (ImageNet) statistics
    and keep them as they are: the frozen ones, or `everywhere` also those that train. A head's own BatchNorm layers
    (fastai's head) always learn their statistics."""
    head = set(resolve(arch).head(model).modules())
    for module in model.modules():
        if (
            isinstance(module, BATCHNORM)
            and module not in head
            and (everywhere or not any(p.requires_grad for p in module.parameters()))
        ):
            module.eval()
