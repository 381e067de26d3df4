"""The Kubernetes target: Airflow's official Helm chart, a third renderer of the StackPlan.

`chart` holds the chart's terms (paths, ports, Service names, which value carries which secret);
`inputs` gathers what the cluster alone decides (`release.K8sInputs`) and refuses bad input;
`render` turns plan + inputs into files (values.yaml via `values`, secrets.yaml and jobs.yaml via
`manifests`), purely; `image` bakes and pushes the project image by digest; `helm` is the only
code that runs helm and kubectl; `deploy` applies the rendered release with them.
"""
