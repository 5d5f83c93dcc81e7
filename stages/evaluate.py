"""Stage evaluate: score models/model.pt on the training, validation (and test) split; writes metrics/."""

import json

from pets.atomic import write_json
from pets.cache import read_manifest
from pets.errors import report_errors
from pets.evaluate import predict_probs, summarize
from pets.interpret import write_interpretation
from pets.loader import CachedSplit
from pets.models import model_from_checkpoint
from pets.params import load_params
from pets.sharing import thread_budget
from pets.train import device_default, fastest_kernels, use_threads


@report_errors
def main():
    params = load_params()
    p = params["evaluate"]
    model, checkpoint = model_from_checkpoint("models/model.pt")
    size, mean, std = checkpoint["size"], checkpoint["mean"], checkpoint["std"]
    device = fastest_kernels(device_default())
    use_threads(thread_budget(params["threads"]))
    metrics = {}
    # the training images too, seen as the validation ones are (no augmentation): over-fitting shows beside valid
    for name in [s for s in ("train", "valid", "test") if s in read_manifest("data/cache")["splits"]]:
        split = CachedSplit("data/cache", name)
        labels = split.labels.tolist()
        probs = predict_probs(model, split, size, mean, std, device)
        metrics[name] = summarize(probs, labels)
        if p["tta"]:
            tta_probs = predict_probs(model, split, size, mean, std, device, tta=True)
            metrics[name]["tta_error_rate"] = summarize(tta_probs, labels)["error_rate"]
        if name == "valid":
            write_interpretation(probs, labels, checkpoint["classes"], split, "metrics", p["top_losses"])
    write_json("metrics/metrics.json", metrics)
    print("evaluate: " + json.dumps(metrics))


if __name__ == "__main__":
    main()
