"""Object detection with packaged pretrained weights: a COCO-trained CenterNet (MobileNetV3) run from its
TensorFlow.js graph by a small torch interpreter. Nothing loads at import."""
