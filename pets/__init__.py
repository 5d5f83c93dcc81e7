"""pets: a reproducible fine-tuning pipeline for fine-grained image classification."""
