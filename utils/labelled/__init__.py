"""Labelled data: the label rule, dataset readers and accuracy metrics."""
