"""DeepStream model files: nvinfer configs, labels, engine records (pure), and their writers."""
