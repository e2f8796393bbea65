"""Vision-language model (VLM) answerers: any transformers image-text-to-text model (``hf:``), and its
``tiny:hf`` twin (random weights, Idefics3/SmolVLM family, written as a local folder)."""
