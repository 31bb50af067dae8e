"""Training: the loop, optimizers, recipes and jobs, options, time and memory estimates, augmentation, benchmarks."""
