"""The web front end (Gradio, ``build_demo(services, catalog)``) and the HTTP API beside it, served together
by ``sceneqa serve``. Handlers call the same use cases as the CLI; they hold no logic of their own."""
