"""How good, how fast: data loaders, metrics, evaluations and benchmarks. Imports multimodal and
retrieval; nothing but the CLI's ``main()`` imports eval."""
