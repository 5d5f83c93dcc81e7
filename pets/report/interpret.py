"""Write what the validation predictions say, as files under metrics/."""

import csv
import io
from pathlib import Path

from pets.atomic import write_json, write_text
from pets.config import layout
from pets.report.metrics import (
    PER_CLASS_COLUMNS,
    confusion_records,
    most_confused,
    per_class_table,
    per_image_loss,
    top_losses,
)
from pets.report.pictures import confusion_matrix, image_grid


def write_interpretation(probs, labels, classes, pixels, out, n_top_losses):
    """confusion.json (DVC's confusion template), most_confused.json, per_class.tsv, confusion.png, top_losses.png;
    `pixels(rows)` gives the cached uint8 pixels of those images (pets.data.cache.cached_pixels)."""
    out = Path(out)
    predicted = probs.argmax(1)
    write_json(out / layout.CONFUSION.name, confusion_records(predicted, labels, classes))
    write_json(out / layout.MOST_CONFUSED.name, most_confused(predicted, labels, classes))
    table = io.StringIO()  # the csv module quotes a label holding a tab, quote or newline (labels come from names)
    writer = csv.DictWriter(table, PER_CLASS_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(per_class_table(predicted, labels, classes))
    write_text(out / layout.PER_CLASS.name, table.getvalue())
    confusion_matrix(predicted.tolist(), labels, classes, out / layout.CONFUSION_PNG.name)
    losses = per_image_loss(probs, labels)
    worst = top_losses(probs, labels, n_top_losses)
    right = [bool(predicted[i] == labels[i]) for i in worst]
    titles = [
        f"{'right' if ok else 'WRONG'}: {classes[predicted[i]]} / {classes[labels[i]]} / {losses[i]:.2f} / "
        f"{probs[i, labels[i]]:.2f}"
        for i, ok in zip(worst, right)
    ]
    image_grid(
        pixels(worst),
        titles,
        out / layout.TOP_LOSSES.name,
        heading="highest losses (validation): prediction / actual / loss / probability of actual; WRONG in red"
        if worst
        else "evaluate.top_losses is 0",
        colours=["green" if ok else "red" for ok in right],
    )
