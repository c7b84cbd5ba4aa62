"""Post-training tools: depth-wise decomposition (SVD/GSVD), BlkSConv's PCA hyper-parameter
search (HSA) and the dense-conv helpers both share."""
