"""Scene facts the lite answerer can establish from an image: objects (shape, colour), colours, faces,
text (OCR), concept tags. Pure pre/post-processing; the models they use are passed in."""
