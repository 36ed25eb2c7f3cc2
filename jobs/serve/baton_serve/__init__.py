"""Ray Serve applications for Baton's canary rollouts.

`baton_serve.model` serves one registered model version; `baton_serve.router` splits a
model's traffic between its stable and candidate versions by weight and records per-version
request counts, errors and latency as Ray metrics (scraped by Prometheus for the analyses).
Baton deploys both through the Serve REST API with this folder as the working_dir.
"""
