"""Ship: from a validated notebook to a gated, deployed and monitored endpoint in one flow (issue 16).

`plan` infers the whole plan from the notebook and the project; `service` runs it in the backend as the caller,
through the other domains' service modules (pipelines, registry, serving, monitoring); `routes` is its HTTP layer.
"""
