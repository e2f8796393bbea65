"""Image-text encoders behind one Protocol (:class:`multimodal.encoders.base.Encoder`).

Build one with :func:`multimodal.encoders.factory.create_encoder` from a spec string.
"""
