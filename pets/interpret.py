"""Write what the validation predictions say, as files under metrics/."""

from pathlib import Path

from pets.atomic import write_json, write_text
from pets.evaluate import confusion_records, most_confused, per_class_table, per_image_loss, top_losses
from pets.pictures import confusion_matrix, image_grid


def write_interpretation(probs, labels, classes, split, out, n_top_losses):
    """confusion.json (DVC's confusion template), most_confused.json, per_class.tsv, confusion.png, top_losses.png."""
    out = Path(out)
    predicted = probs.argmax(1)
    write_json(out / "confusion.json", confusion_records(predicted, labels, classes))
    write_json(out / "most_confused.json", most_confused(predicted, labels, classes))
    rows = per_class_table(predicted, labels, classes)
    write_text(out / "per_class.tsv", "class\tcount\taccuracy\tmost_confused_with\n" + "".join(
        f"{r['class']}\t{r['count']}\t{r['accuracy']}\t{r['most_confused_with']}\n" for r in rows))
    confusion_matrix(predicted.tolist(), labels, classes, out / "confusion.png")
    losses = per_image_loss(probs, labels)
    worst = top_losses(probs, labels, n_top_losses)
    titles = [f"{classes[predicted[i]]} / {classes[labels[i]]} / {losses[i]:.2f} / {probs[i, labels[i]]:.2f}"
              for i in worst]
    image_grid(split[worst][0].numpy(), titles, out / "top_losses.png",
               heading="prediction / actual / loss / probability of actual" if worst else "evaluate.top_losses is 0")

