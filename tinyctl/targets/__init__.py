"""The targets a stack plan is rendered for and run on: Compose, local processes, Kubernetes.
Each target package renders the plan into its own files and runs them; `base.Runtime` is the
interface every command uses, `choice` picks the implementation."""
