"""The shared machinery: what every coding system of the project stands on.
It names no system; systems register themselves (`systems`).

    images ---> codec.Compressor --(system's encoder)--> bitstream (.tfci)
    bitstream --> codec.Decompressor --(system's decoder)--> images
    model_file: weights + range-coding tables + fingerprint, per system
    training (+ train_config, data, patches, lagrangian): the Keras loop
    evaluation (+ metrics, baselines, plots): RD curves, BD-rates
    commands: the command-line toolkit and the coding commands

Importing this package loads no TensorFlow; its modules load it as needed.
"""
