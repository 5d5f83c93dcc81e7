"""Where the stages read and write, relative to the project root: the one place the code names these paths.
dvc.yaml spells them again (DVC reads only its own file); a test holds the two equal."""

from pathlib import Path

DOWNLOADS = Path("data/downloads")  # verified archives and partial downloads, kept between runs (not a DVC output)
HASHES = DOWNLOADS / "hashes.json"  # the sources stage's hashes of local files, by their status (not a DVC output)
SOURCES_RECORD = Path("data/sources.json")
WEIGHTS_RECORD = Path("data/weights.json")
FIXES_RECORD = Path("data/fixes.json")
RAW = Path("data/raw")
INDEX_DIR = Path("data/index")
INDEX_TABLE = INDEX_DIR / "index.csv"
CLASSES = INDEX_DIR / "classes.json"
INDEX_REPORT = Path("metrics/index.json")
DATA_CHECK = Path("metrics/data_check.json")
DUPLICATES_PNG = Path("metrics/duplicates.png")
LABEL_REVIEW = Path("metrics/label_review.csv")  # python -m pets audit, not a stage
LABEL_REVIEW_PNG = Path("metrics/label_review.png")
CACHE = Path("data/cache")
MODEL = Path("models/model.pt")
RESUME = Path("models/resume.pt")  # not a DVC output: see pets/train/resume.py
TRAIN_LOCK = Path("models/train.lock")  # held while a training run lives (pets/runtime/lifetime.py)
METRICS = Path("metrics")
TRAINING_LOG = METRICS / "training"  # dvclive: metrics.json (the latest epoch) and plots/metrics/<name>.tsv
CURVES = METRICS / "curves.png"
SHOW_BATCH = METRICS / "show_batch.png"
SHOW_VALID = METRICS / "show_valid.png"
METRICS_JSON = METRICS / "metrics.json"
CONFUSION = METRICS / "confusion.json"
MOST_CONFUSED = METRICS / "most_confused.json"
PER_CLASS = METRICS / "per_class.tsv"
PREDICTIONS = METRICS / "predictions.csv"
COMPARE_PNG = METRICS / "compare.png"  # python -m pets compare, not a stage
CONFUSION_PNG = METRICS / "confusion.png"
TOP_LOSSES = METRICS / "top_losses.png"
RELIABILITY_PNG = METRICS / "reliability.png"
COVERAGE_RISK = METRICS / "coverage_risk.tsv"
ONNX = Path("models/model.onnx")
MODEL_CARD = Path("models/MODEL_CARD.md")
EXPORT_CHECK = METRICS / "export.json"
SCORES = Path(
    "models/scores.npz"
)  # the trained model's log-probabilities of every cached image (pets.inference.scores)
TIMINGS = METRICS / "timings.json"  # where each stage's time went (pets.runtime.clock; not a DVC output)
