"""Turning an architecture into an accuracy: data sets and readers, augmentation, the training
recipe, and the NNI trial function."""
