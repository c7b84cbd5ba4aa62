"""Networks built from a configuration: the DARTS cell and network, the CIFAR ResNet backbone,
and the registration of our ops in NNI's cell op table."""
