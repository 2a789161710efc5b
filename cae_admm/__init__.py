"""CAE-ADMM: a compressive autoencoder whose rate is set by ADMM pruning.

H. Zhao, P. Liao: "CAE-ADMM: Implicit Bitrate Optimization via ADMM-based
Pruning in Compressive Autoencoders", 2019. https://arxiv.org/abs/1901.07196
"""
