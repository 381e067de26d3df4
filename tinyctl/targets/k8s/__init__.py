"""The Kubernetes target: Airflow's official Helm chart, rendered from the same spec.

`render` turns the target's inputs into files (values.yaml, secrets.yaml, jobs.yaml), purely;
`inputs` gathers those inputs (secrets, environment, the pushed image) and refuses bad input;
`image` bakes and pushes the project image by digest; `helm` is the only code that runs helm
and kubectl; `deploy` applies the rendered release with them.
"""
