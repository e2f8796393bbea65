"""The serving engine: one worker thread per model kind, each pulling from a bounded queue, gathering
concurrent requests into one forward pass (dynamic batching) and dropping requests whose deadline passed
while they waited. :mod:`~multimodal.engine.config` (settings), :mod:`~multimodal.engine.jobs` (what is queued,
errors, per-request timings), :mod:`~multimodal.engine.worker` (the batching loop),
:mod:`~multimodal.engine.engine` (the workers and their lanes), :mod:`~multimodal.engine.encoder` (an encoder
and services that batch through an engine). Importing this package loads nothing."""
