"""DeepStream model files: nvinfer configs, labels, engine records (pure). The steps that write
them are in provision/capabilities/ (model_config.py, parser_lib.py, engines.py)."""
